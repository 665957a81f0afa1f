import type { Logger } from 'pino';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { DeviceLists } from '../devices/device-lists.js';
import type { FederationClient } from '../federation/federation-contracts.js';
import type { UserInteractiveAuth } from '../user-interactive-auth/user-interactive-auth.js';
import type { Users } from '../users/users.js';
import { CrossSigning } from './cross-signing.js';
import { KeyClaim } from './key-claim.js';
import { KeyQuery } from './key-query.js';
import { KeyUpload } from './key-upload.js';
import { RemoteE2eeKeys } from './remote-e2ee-keys.js';
import { SignatureUpload } from './signature-upload.js';

/** The end-to-end encryption key services of a tenant (see docs/e2ee.md). */
export interface E2eeServices {
  readonly keyUpload: KeyUpload;
  readonly keyQuery: KeyQuery;
  readonly keyClaim: KeyClaim;
  readonly crossSigning: CrossSigning;
  readonly signatureUpload: SignatureUpload;
}

export interface E2eeServicesDeps {
  serverName: string;
  db: TenantDatabase;
  deviceLists: DeviceLists;
  uia: UserInteractiveAuth;
  users: Pick<Users, 'deactivated'>;
  /** Reaches other servers, for their users' keys. */
  federation: FederationClient;
  logger: Logger;
}

export function createE2eeServices(deps: E2eeServicesDeps): E2eeServices {
  const { serverName, db, deviceLists, uia } = deps;
  const crossSigning = new CrossSigning(db, deviceLists, uia);
  const remote = new RemoteE2eeKeys(deps.federation, deps.logger);
  // Device keys go with the devices; cross-signing keys with the account.
  deps.users.deactivated.add(({ userId }) => crossSigning.forgetUser(userId));
  return {
    keyUpload: new KeyUpload(db, deviceLists),
    keyQuery: new KeyQuery(db, serverName, remote),
    keyClaim: new KeyClaim(db, serverName, remote),
    crossSigning,
    signatureUpload: new SignatureUpload(db, deviceLists, serverName),
  };
}
