import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isValidServerName } from '../core/identifiers.js';
import { formatSigningKeyFile, generateSigningKey } from '../protocol/signing-key.js';
import { tenantConfigSchema, type TenantConfig } from '../services/tenant-config.js';

const CONFIG_FILE = 'tenant.json';
/** Marks a folder that `create` is still writing (renamed into place when complete). */
const CREATING_MARK = '.creating-';

export type RegistrationMode = TenantConfig['registration_mode'];

/** Where a new tenant keeps its media: its folder's `media/` (default) or an S3 bucket. */
export type NewTenantMediaStore =
  | { kind: 'local' }
  | (Omit<
      Extract<TenantConfig['media_store'], { kind: 's3' }>,
      'region' | 'prefix' | 'force_path_style'
    > &
      Partial<
        Pick<
          Extract<TenantConfig['media_store'], { kind: 's3' }>,
          'region' | 'prefix' | 'force_path_style'
        >
      >);

export interface NewTenantSettings {
  /** Host names whose requests the tenant serves (default: just the server_name). */
  hostnames?: readonly string[];
  /** Default `closed`: accounts come from `marina user create` or shared-secret registration. */
  registrationMode?: RegistrationMode;
  /** Default: local media in the tenant's folder. */
  mediaStore?: NewTenantMediaStore;
}

/**
 * Tenants kept in a data directory, one folder each (`tenants/<server_name>/`) holding
 * `tenant.json`, the signing key, the SQLite database and local media. Paths inside
 * `tenant.json` are relative to the tenant's folder, so a data directory can be moved whole.
 */
export class LocalTenantStore {
  readonly dataDir: string;

  constructor(dataDir: string) {
    this.dataDir = resolve(dataDir);
  }

  tenantDir(serverName: string): string {
    return join(this.dataDir, 'tenants', serverName);
  }

  async exists(serverName: string): Promise<boolean> {
    return stat(join(this.tenantDir(serverName), CONFIG_FILE)).then(
      () => true,
      () => false,
    );
  }

  async list(): Promise<string[]> {
    const entries = await readdir(join(this.dataDir, 'tenants'), { withFileTypes: true }).catch(
      () => [],
    );
    const names = entries
      .filter((entry) => entry.isDirectory() && !entry.name.includes(CREATING_MARK))
      .map((entry) => entry.name);
    const present = await Promise.all(names.map((name) => this.exists(name)));
    return names.filter((_, i) => present[i]).sort();
  }

  /**
   * Creates a tenant with a fresh signing key and registration shared secret, SQLite in its
   * folder, and local media there unless the settings name an S3 bucket. Written to a temporary folder first and renamed into place, so a
   * failure leaves nothing half-created.
   */
  async create(serverName: string, settings: NewTenantSettings = {}): Promise<TenantConfig> {
    if (!isValidServerName(serverName)) {
      throw new Error(`"${serverName}" is not a valid Matrix server name`);
    }
    if (await this.exists(serverName)) throw new Error(`tenant ${serverName} already exists`);
    const finalDir = this.tenantDir(serverName);
    const tempDir = `${finalDir}${CREATING_MARK}${randomBytes(4).toString('hex')}`;
    const hostnames = settings.hostnames?.length ? [...settings.hostnames] : [serverName];
    const stored = {
      server_name: serverName,
      hostnames,
      database: { dialect: 'sqlite', path: 'homeserver.db' },
      media_store:
        settings.mediaStore === undefined || settings.mediaStore.kind === 'local'
          ? { kind: 'local', path: 'media' }
          : settings.mediaStore,
      // New tenants serve media only through the authenticated endpoints (spec v1.11 "freeze").
      unauthenticated_media_freeze_ts: Date.now(),
      signing_key_path: 'signing.key',
      old_verify_keys: [],
      registration_mode: settings.registrationMode ?? 'closed',
      registration_shared_secret: randomBytes(32).toString('base64url'),
    };
    const checked = tenantConfigSchema.safeParse(stored);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new Error(`invalid tenant settings at ${issue?.path.join('.')}: ${issue?.message}`);
    }
    try {
      await mkdir(tempDir, { recursive: true, mode: 0o700 });
      await writeFile(join(tempDir, 'signing.key'), formatSigningKeyFile([generateSigningKey()]), {
        mode: 0o600,
      });
      await writeFile(join(tempDir, CONFIG_FILE), `${JSON.stringify(stored, null, 2)}\n`, {
        mode: 0o600,
      });
      await rename(tempDir, finalDir);
    } catch (error) {
      await rm(tempDir, { recursive: true, force: true });
      throw error;
    }
    return this.load(serverName);
  }

  /**
   * Removes a tenant's folder. With `purge` its data is deleted; otherwise the folder moves to
   * `deleted-tenants/<server_name>.<time>/` (returned), out of the way of a new tenant of the same
   * name. A PostgreSQL database named in `tenant.json` is never dropped.
   */
  async remove(serverName: string, options: { purge: boolean }): Promise<{ keptAt?: string }> {
    const dir = this.tenantDir(serverName);
    if (!(await this.exists(serverName))) return {};
    if (options.purge) {
      await rm(dir, { recursive: true, force: true });
      return {};
    }
    const deletedDir = join(this.dataDir, 'deleted-tenants');
    await mkdir(deletedDir, { recursive: true, mode: 0o700 });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const keptAt = join(deletedDir, `${serverName}.${stamp}`);
    await rename(dir, keptAt);
    return { keptAt };
  }

  /** Reads a tenant's settings, with every path made absolute. */
  async load(serverName: string): Promise<TenantConfig> {
    const dir = this.tenantDir(serverName);
    const file = join(dir, CONFIG_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw new Error(`no tenant ${serverName} in ${this.dataDir} (looked for ${file})`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new Error(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    const parsed = tenantConfigSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `${file} is invalid at ${issue?.path.join('.') || '(top)'}: ${issue?.message}`,
      );
    }
    const config = parsed.data;
    return {
      ...config,
      hostnames: config.hostnames.length > 0 ? config.hostnames : [config.server_name],
      database:
        config.database.dialect === 'sqlite'
          ? { ...config.database, path: resolve(dir, config.database.path) }
          : config.database,
      media_store:
        config.media_store.kind === 'local'
          ? { ...config.media_store, path: resolve(dir, config.media_store.path) }
          : config.media_store,
      signing_key_path: resolve(dir, config.signing_key_path),
      federation_ca_files: config.federation_ca_files.map((file) => resolve(dir, file)),
    };
  }
}
