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
  const presence = new Presence(db, clock, serverName, membershipLookup, logger);
  // Presence timeouts (idle, stopped syncing): one sweep per tenant, stopped with it.
  presence.startSweeping();
  return {
    membershipLookup,
    typing,
    receipts: new Receipts(db, clock, membershipLookup, deps.accountData, logger),
    presence,
    streamPositions: new StreamPositions(db, typing),
    notifier: new Notifier(),
  };
}

/**
 * Ends every long-poll and typing timer, then the presence sweep, waiting for one in progress
 * (the tenant is stopping: its database closes next).
 */
export async function stopEphemeralServices(services: EphemeralServices): Promise<void> {
  services.notifier.stop();
  services.typing.stop();
  await services.presence.stop();
}
