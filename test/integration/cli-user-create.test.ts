import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMarina, startMarina, type MarinaProcess } from '../helpers/marina-process.js';

/** `POST /login` with a password; the response status and body. */
async function login(
  url: string,
  user: string,
  password: string,
): Promise<{ status: number; body: { user_id?: string; access_token?: string } }> {
  const response = await fetch(`${url}/_matrix/client/v3/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      type: 'm.login.password',
      identifier: { type: 'm.id.user', user },
      password,
    }),
  });
  return { status: response.status, body: (await response.json()) as never };
}

/** Status of an admin-only Synapse admin API call: 200 for admins, 403 for anyone else. */
async function adminApiStatus(url: string, accessToken: string): Promise<number> {
  const response = await fetch(`${url}/_synapse/admin/v1/registration_tokens`, {
    headers: { Authorization: `Bearer ${accessToken}` },
  });
  return response.status;
}

describe('marina user create, while marina up serves the same data dir', () => {
  let dataDir: string;
  let marina: MarinaProcess;
  const create = (args: string[], stdin?: string) =>
    runMarina(['user', 'create', ...args, '--data-dir', dataDir], { stdin });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'marina-user-'));
    marina = await startMarina(['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
  });

  afterAll(async () => {
    await marina?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('creates an admin from --password-stdin, prints only the user ID, and it can log in', async () => {
    const created = await create(['alice', '--admin', '--password-stdin'], 'alice secret pw\n');
    expect(created).toMatchObject({ code: 0, stdout: '@alice:localhost\n' });
    expect(created.stderr).not.toContain('alice secret pw');

    // The trailing newline of the input is not part of the password.
    expect((await login(marina.url, 'alice', 'alice secret pw\n')).status).toBe(403);
    const session = await login(marina.url, 'alice', 'alice secret pw');
    expect(session.status).toBe(200);
    expect(session.body.user_id).toBe('@alice:localhost');
    expect(await adminApiStatus(marina.url, session.body.access_token!)).toBe(200);
  });

  it('creates a non-admin from --password-file, lower-casing the username', async () => {
    const file = join(dataDir, 'bob-password');
    await writeFile(file, 'bob secret pw\n', { mode: 0o600 });
    const created = await create(['Bob', '--password-file', file]);
    expect(created).toMatchObject({ code: 0, stdout: '@bob:localhost\n' });

    const session = await login(marina.url, '@bob:localhost', 'bob secret pw');
    expect(session.status).toBe(200);
    expect(await adminApiStatus(marina.url, session.body.access_token!)).toBe(403);
  });

  it('refuses a user that exists, in any case, and leaves its password alone', async () => {
    const created = await create(['carol', '--password-stdin'], 'carol pw');
    expect(created.code).toBe(0);
    for (const username of ['carol', 'CAROL']) {
      const again = await create([username, '--password-stdin'], 'another pw');
      expect(again.code).toBe(1);
      expect(again.stdout).toBe('');
      expect(again.stderr).toContain(`the user "${username}" already exists on localhost`);
      expect(again.stderr).toContain('M_USER_IN_USE');
    }
    expect((await login(marina.url, 'carol', 'carol pw')).status).toBe(200);
    expect((await login(marina.url, 'carol', 'another pw')).status).toBe(403);
  });

  it('refuses usernames as registration does', async () => {
    for (const username of ['bad name', '_reserved']) {
      const refused = await create([username, '--password-stdin'], 'some pw');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`cannot create the user "${username}"`);
      expect(refused.stderr).toContain('M_INVALID_USERNAME');
    }
  });

  it('refuses an empty password and creates nothing', async () => {
    const refused = await create(['dave', '--password-stdin'], '\n');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Password is empty (M_WEAK_PASSWORD)');
    // The name is still free.
    expect((await create(['dave', '--password-stdin'], 'dave pw')).code).toBe(0);
  });

  it('names the command that lists tenants when the tenant is unknown', async () => {
    const refused = await create(['erin', '--tenant', 'nobody.example', '--password-stdin'], 'pw');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('no tenant nobody.example');
    expect(refused.stderr).toContain('marina tenant list');
  });

  it('asks for --password-stdin or --password-file when stdin is not a terminal', async () => {
    const refused = await create(['frank']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('standard input is not a terminal');
    expect(refused.stderr).toContain('--password-stdin');
    expect(refused.stderr).toContain('--password-file');
  });

  it('takes the contract form SERVER_NAME LOCALPART --password P', async () => {
    const created = await create(['localhost', 'grace', '--password', 'grace secret pw']);
    expect(created).toMatchObject({ code: 0, stdout: '@grace:localhost\n' });
    expect((await login(marina.url, 'grace', 'grace secret pw')).status).toBe(200);

    const unknown = await create(['nobody.example', 'grace', '--password', 'pw']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no tenant nobody.example');
  });

  it('takes one tenant, one password source and at most two arguments', async () => {
    const extra = await create(['localhost', 'grace', 'grace-password']);
    expect(extra.code).toBe(1);
    expect(extra.stderr).toContain('too many arguments');

    const twoTenants = await create(['localhost', 'henry', '--tenant', 'other', '--password', 'p']);
    expect(twoTenants.code).toBe(1);
    expect(twoTenants.stderr).toContain('two tenants given');

    const both = await create(['grace', '--password-stdin', '--password-file', 'x'], 'pw');
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('cannot be used with');
    const argAndStdin = await create(['henry', '--password', 'p', '--password-stdin'], 'pw');
    expect(argAndStdin.code).toBe(1);
    expect(argAndStdin.stderr).toContain('cannot be used with');
  });
});

describe('marina user create, with marina up stopped', () => {
  it('creates the user in the data dir; the next marina up lets it log in', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'marina-user-'));
    try {
      const first = await startMarina(['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
      expect(await first.stop()).toBe(0);

      const created = await runMarina(
        ['user', 'create', 'heidi', '--admin', '--data-dir', dataDir, '--password-stdin'],
        { stdin: 'heidi pw' },
      );
      expect(created).toMatchObject({ code: 0, stdout: '@heidi:localhost\n' });

      const second = await startMarina(['up', '--data-dir', dataDir, '--listen', '127.0.0.1:0']);
      try {
        const session = await login(second.url, 'heidi', 'heidi pw');
        expect(session.status).toBe(200);
        expect(await adminApiStatus(second.url, session.body.access_token!)).toBe(200);
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('says how to create the tenant localhost when the data dir is empty', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'marina-user-'));
    try {
      const refused = await runMarina(
        ['user', 'create', 'ivan', '--data-dir', dataDir, '--password-stdin'],
        { stdin: 'pw' },
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('no tenant localhost');
      expect(refused.stderr).toContain('`marina up` creates it');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
