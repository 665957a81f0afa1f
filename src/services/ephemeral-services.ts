import type { Logger } from 'pino';
import type { Clock } from '../core/clock.js';
import type { TenantDatabase } from '../storage/tenant-database.js';
import type { AccountData } from './account-data/account-data.js';
import { StoredMembershipLookup, type MembershipLookup } from './ephemeral/membership-lookup.js';
import { Presence } from './ephemeral/presence.js';
import { Receipts } from './ephemeral/receipts.js';
import { Typing } from './ephemeral/typing.js';
import { Notifier } from './notifier/notifier.js';
import { StreamPositions } from './sync/sync-token.js';

/**
 * Typing, receipts and presence (the ephemeral streams), the tenant's stream positions and the
 * notifier `/sync` waits on.
 */
export interface EphemeralServices {
  readonly membershipLookup: MembershipLookup;
  readonly typing: Typing;
  readonly receipts: Receipts;
  readonly presence: Presence;
  readonly streamPositions: StreamPositions;
  readonly notifier: Notifier;
}

export interface EphemeralServicesDeps {
  serverName: string;
  db: TenantDatabase;
  clock: Clock;
  logger: Logger;
  accountData: AccountData;
}

/** Builds one tenant's ephemeral services; `connectNotifier` then feeds the notifier. */
export function createEphemeralServices(deps: EphemeralServicesDeps): EphemeralServices {
  const { serverName, db, clock, logger } = deps;
  const membershipLookup = new StoredMembershipLookup(db);
  const typing = new Typing(membershipLookup, clock, logger);
  return {
    membershipLookup,
    typing,
    receipts: new Receipts(db, clock, membershipLookup, deps.accountData, logger),
    presence: new Presence(db, clock, serverName, membershipLookup, logger),
    streamPositions: new StreamPositions(db, typing),
    notifier: new Notifier(),
  };
}

/** Ends every long-poll and typing timer (the tenant is stopping). */
export function stopEphemeralServices(services: EphemeralServices): void {
  services.notifier.stop();
  services.typing.stop();
}
