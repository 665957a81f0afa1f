import { execFile, spawn } from 'node:child_process';
import { access, chmod, chown, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.js';

const execFileAsync = promisify(execFile);

/** Where Debian's postgresql packages put their binaries: /usr/lib/postgresql/<major>/bin. */
const DEBIAN_POSTGRES_LIB = '/usr/lib/postgresql';

export interface PostgresCluster {
  /** Superuser URL of the cluster's `postgres` database, with trust authentication. */
  url: string;
  /** Stops the server and deletes its data. Idempotent. */
  stop(): Promise<void>;
}

export interface StartPostgresClusterOptions {
  /** Where to look for `<major>/bin/initdb`; Debian's location by default. */
  postgresLibDir?: string;
  /** Progress lines (install, start, stop); stderr by default. */
  log?: (line: string) => void;
}

/**
 * Starts a throwaway PostgreSQL cluster on a free port of 127.0.0.1, tuned for tests (no fsync,
 * trust authentication), installing the Debian package first if it is missing and we are root.
 */
export async function startPostgresCluster(
  options: StartPostgresClusterOptions = {},
): Promise<PostgresCluster> {
  const log =
    options.log ?? ((line: string) => process.stderr.write(`[postgres-cluster] ${line}\n`));
  const libDir = options.postgresLibDir ?? DEBIAN_POSTGRES_LIB;
  const isRoot = process.getuid?.() === 0;
  const bin = await ensurePostgresBinaries(libDir, isRoot, log);

  const dir = await mkdtemp(join(tmpdir(), 'marina-pg-'));
  // initdb refuses to run as root, so as root the cluster belongs to the `postgres` user.
  const run = (command: string, args: string[]) =>
    isRoot
      ? execFileAsync('runuser', ['-u', 'postgres', '--', join(bin, command), ...args], {
          cwd: dir,
        })
      : execFileAsync(join(bin, command), args, { cwd: dir });
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'log');
  let started = false;

  const stop = async () => {
    if (started) {
      started = false;
      await run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']).catch((error: unknown) =>
        log(`pg_ctl stop failed: ${String(error)}`),
      );
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    if (isRoot) {
      const { uid, gid } = await postgresUser();
      await chown(dir, uid, gid);
    }
    await chmod(dir, 0o700);
    await run('initdb', [
      '-D',
      dataDir,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C.UTF-8',
      '--no-sync',
      '--no-instructions',
    ]);
    const port = await freePort();
    const serverOptions = [
      `-p ${port}`,
      '-h 127.0.0.1',
      `-k ${dir}`,
      // Durability is pointless for throwaway test data; these make it several times faster.
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      // Test files run in parallel, each opening small pools.
      '-c max_connections=200',
    ].join(' ');
    try {
      await run('pg_ctl', [
        '-D',
        dataDir,
        '-l',
        logFile,
        '-w',
        '-t',
        '30',
        '-o',
        serverOptions,
        'start',
      ]);
    } catch (error) {
      const serverLog = await readFile(logFile, 'utf8').catch(() => '(no log)');
      throw new Error(`PostgreSQL did not start: ${String(error)}\n${serverLog}`, { cause: error });
    }
    started = true;
    log(`PostgreSQL running on 127.0.0.1:${port} (data in ${dir})`);
    return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The bin directory of the newest installed PostgreSQL, installing it if needed and allowed. */
async function ensurePostgresBinaries(
  libDir: string,
  isRoot: boolean,
  log: (line: string) => void,
): Promise<string> {
  const found = await findPostgresBin(libDir);
  if (found) return found;
  if (!isRoot) {
    throw new Error(
      `PostgreSQL is not installed (no ${libDir}/<version>/bin/initdb). Install it ` +
        '(Debian: apt-get install postgresql) or set MARINA_TEST_PG_URL to a server the tests ' +
        'may create and drop databases on.',
    );
  }
  log(`PostgreSQL not found under ${libDir}; installing the Debian package`);
  await runVisibly('apt-get', ['update'], log);
  // No recommends: tests need the server only, not sysstat or contrib.
  await runVisibly('apt-get', ['install', '-y', '--no-install-recommends', 'postgresql'], log);
  const installed = await findPostgresBin(libDir);
  if (!installed) {
    throw new Error(`installed postgresql, but found no ${libDir}/<version>/bin/initdb`);
  }
  return installed;
}

async function findPostgresBin(libDir: string): Promise<string | undefined> {
  const versions = await readdir(libDir).catch(() => [] as string[]);
  // Newest major first: "16" before "15" (numerically, so "9.6" sorts last).
  versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  for (const version of versions) {
    const bin = join(libDir, version, 'bin');
    const usable = await Promise.all(
      ['initdb', 'pg_ctl'].map((tool) =>
        access(join(bin, tool)).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (usable.every(Boolean)) return bin;
  }
  return undefined;
}

/** Runs a command with its output shown, so a long install is visibly doing something. */
function runVisibly(command: string, args: string[], log: (line: string) => void): Promise<void> {
  log(`$ ${command} ${args.join(' ')}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all(
    ['-u', '-g'].map(async (flag) =>
      Number((await execFileAsync('id', [flag, 'postgres'])).stdout.trim()),
    ),
  );
  if (uid === undefined || gid === undefined || Number.isNaN(uid) || Number.isNaN(gid)) {
    throw new Error('cannot find the uid/gid of the postgres user');
  }
  return { uid, gid };
}
