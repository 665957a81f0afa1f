import { Option, type Command } from 'commander';
import { EMBEDDED_TENANT } from './up.js';

export interface CreateOptions {
  dataDir: string;
  tenant?: string;
  admin?: boolean;
  password?: string;
  passwordFile?: string;
  passwordStdin?: boolean;
}

/**
 * `marina user create`: the first account of a tenant whose registration is closed, without
 * shared-secret HTTP calls. It goes through the same services as registration (username rules,
 * password policy, scrypt hashing, one transaction), on its own connection to the tenant's
 * database, so `marina up` may be running or not.
 *
 * Two forms: `user create LOCALPART [--tenant SERVER_NAME]` (default tenant `localhost`) and the
 * issue 4 contract `user create SERVER_NAME LOCALPART [--password P]`. `--password` shows the
 * password to anyone who can run `ps` or read the shell history; `--password-stdin` does not.
 * The action lives in user-actions.ts, loaded when it runs (see main.ts).
 */
export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage the accounts of a tenant');

  user
    .command('create')
    .description(
      'create an account and print its user ID; asks for the password twice on a terminal',
    )
    .argument(
      '<server_name_or_username>',
      'SERVER_NAME LOCALPART, or just the localpart (of --tenant, default localhost)',
    )
    .argument('[username]', 'localpart of the new user ID (lower-cased, as registration does)')
    .option('--data-dir <dir>', 'where tenants keep their data', './marina-data')
    .option(
      '--tenant <server_name>',
      `the tenant to create the account on (default ${EMBEDDED_TENANT})`,
    )
    .option('--admin', 'make the user a server admin')
    .addOption(
      new Option(
        '--password <password>',
        'the password itself (visible in `ps` and shell history: prefer --password-stdin)',
      ).conflicts(['passwordStdin', 'passwordFile']),
    )
    .addOption(
      new Option('--password-file <file>', 'read the password from FILE').conflicts(
        'passwordStdin',
      ),
    )
    .option('--password-stdin', 'read the password from standard input')
    .action(async (first: string, second: string | undefined, options: CreateOptions) => {
      const { createUser } = await import('./user-actions.js');
      await createUser(first, second, options);
    });
}
