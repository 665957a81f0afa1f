import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/**
 * The controller's files in a data directory (`DIR/controller/`): the registry, the admin token
 * (created once, readable by the owner only) and `controller.json`, which says where the running
 * controller listens so that `marina tenant …` can find it.
 */

export interface ControllerPaths {
  readonly dir: string;
  readonly registry: string;
  readonly adminToken: string;
  readonly controllerJson: string;
}

/** Where a running controller listens; present only while it runs. */
export interface ControllerFile {
  readonly url: string;
  readonly pid: number;
}

export function controllerPaths(dataDir: string): ControllerPaths {
  const dir = join(resolve(dataDir), 'controller');
  return {
    dir,
    registry: join(dir, 'registry.db'),
    adminToken: join(dir, 'admin-token'),
    controllerJson: join(dir, 'controller.json'),
  };
}

/** Reads the admin token, creating it (mode 0600) on first use. */
export async function readOrCreateAdminToken(path: string): Promise<string> {
  const existing = await readAdminToken(path);
  if (existing !== undefined) {
    // Someone may have loosened it; it guards every tenant's secrets.
    if (((await stat(path)).mode & 0o077) !== 0) await chmod(path, 0o600);
    return existing;
  }
  await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('base64url');
  try {
    // `wx`: two processes starting at once never overwrite each other's token.
    await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
    return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const written = await readAdminToken(path);
    if (written === undefined) {
      throw new Error(`the admin token file ${path} is empty`, { cause: error });
    }
    return written;
  }
}

export async function readAdminToken(path: string): Promise<string | undefined> {
  try {
    const token = (await readFile(path, 'utf8')).trim();
    return token === '' ? undefined : token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Written through a temporary file, so a reader never sees half of it. */
export async function writeControllerFile(path: string, file: ControllerFile): Promise<void> {
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, `${JSON.stringify(file)}\n`, { mode: 0o600 });
  await rename(temp, path);
}

export async function readControllerFile(path: string): Promise<ControllerFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<ControllerFile>;
    if (typeof parsed.url === 'string' && typeof parsed.pid === 'number') {
      return { url: parsed.url, pid: parsed.pid };
    }
  } catch {
    // unreadable: treated as absent
  }
  return undefined;
}

export async function removeControllerFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
