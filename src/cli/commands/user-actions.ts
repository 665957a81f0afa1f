/**
 * What `marina user create` does (its options: user.ts). A module of its own so that the `marina`
 * command loads the tenant's services only when it runs.
 */
import { isMatrixError } from '../../core/errors.js';
import { LocalTenantStore } from '../../controller/local-tenant-store.js';
import { openTenantAccounts } from '../../homeserver/tenant-accounts.js';
import { checkNewPassword } from '../../services/users/users.js';
import { createProcessLogger } from '../logger.js';
import { choosePasswordSource, readPassword } from '../read-password.js';
import { EMBEDDED_TENANT } from './up.js';
import type { CreateOptions } from './user.js';

export async function createUser(
  first: string,
  second: string | undefined,
  options: CreateOptions,
): Promise<void> {
  const { tenant, username } = accountOf(first, second, options.tenant);
  const source =
    options.password === undefined
      ? choosePasswordSource(options, process.stdin.isTTY === true)
      : undefined;
  const store = new LocalTenantStore(options.dataDir);
  if (!(await store.exists(tenant))) {
    const firstRun = tenant === EMBEDDED_TENANT ? ' (`marina up` creates it on its first run)' : '';
    throw new Error(
      `no tenant ${tenant} in ${store.dataDir}${firstRun}; ` +
        `list the tenants with: marina tenant list --data-dir ${options.dataDir}`,
    );
  }
  const config = await store.load(tenant);
  const logger = createProcessLogger('marina', { stream: 'stderr', defaultLevel: 'warn' });
  const accounts = await openTenantAccounts(config, { logger });
  try {
    const { registration } = accounts.services;
    // The username first, so nobody types a password for an account that cannot exist.
    const localpart = await registration.checkUsername(username);
    const password =
      source === undefined
        ? (options.password as string)
        : await readPassword(source, { input: process.stdin, output: process.stderr });
    checkNewPassword(password);
    const { userId } = await registration.createAccount({
      localpart,
      password,
      isAdmin: options.admin === true,
      isGuest: false,
    });
    process.stdout.write(`${userId}\n`);
  } catch (error) {
    throw explain(error, username, tenant);
  } finally {
    await accounts.close();
  }
}

/** `SERVER_NAME LOCALPART`, or `LOCALPART` with the tenant from --tenant (default localhost). */
function accountOf(
  first: string,
  second: string | undefined,
  tenantOption: string | undefined,
): { tenant: string; username: string } {
  if (second === undefined) return { tenant: tenantOption ?? EMBEDDED_TENANT, username: first };
  if (tenantOption !== undefined && tenantOption !== first) {
    throw new Error(
      `two tenants given (${first} and --tenant ${tenantOption}); name it once: ` +
        'marina user create SERVER_NAME LOCALPART',
    );
  }
  return { tenant: first, username: second };
}

/** Registration's Matrix errors, worded for a terminal. */
function explain(error: unknown, username: string, tenant: string): unknown {
  if (!isMatrixError(error)) return error;
  if (error.errcode === 'M_USER_IN_USE') {
    return new Error(`the user "${username}" already exists on ${tenant} (M_USER_IN_USE)`);
  }
  return new Error(`cannot create the user "${username}": ${error.message} (${error.errcode})`);
}
