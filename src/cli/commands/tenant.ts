import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { LocalTenantStore } from '../../controller/local-tenant-store.js';
import { parseSigningKeyFile } from '../../protocol/signing-key.js';

export function registerTenantCommands(program: Command): void {
  const tenant = program
    .command('tenant')
    .description('inspect the tenants (homeservers) of a data directory');

  tenant
    .command('show')
    .description("print a tenant's settings")
    .argument('<server_name>', 'the tenant to show')
    .option('--data-dir <dir>', 'where tenants keep their data', './marina-data')
    .option('--json', 'print JSON instead of text')
    .action(async (serverName: string, options: { dataDir: string; json?: boolean }) => {
      const store = new LocalTenantStore(options.dataDir);
      const config = await store.load(serverName);
      const [signingKey] = parseSigningKeyFile(await readFile(config.signing_key_path, 'utf8'));
      const shown = {
        ...config,
        tenant_dir: store.tenantDir(serverName),
        signing_key_id: signingKey?.keyId,
        verify_key: signingKey?.publicKey,
      };
      if (options.json) {
        process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`);
        return;
      }
      for (const [key, value] of Object.entries(shown)) {
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        process.stdout.write(`${key}: ${text}\n`);
      }
    });

  tenant
    .command('list')
    .description('list the tenants of a data directory')
    .option('--data-dir <dir>', 'where tenants keep their data', './marina-data')
    .action(async (options: { dataDir: string }) => {
      const names = await new LocalTenantStore(options.dataDir).list();
      process.stdout.write(names.map((name) => `${name}\n`).join(''));
    });
}
