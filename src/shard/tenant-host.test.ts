import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MatrixError } from '../core/errors.js';
import { startHomeserver } from '../homeserver/homeserver.js';
import type { TenantAdmission } from '../http/http-app.js';
import { formatSigningKeyFile, generateSigningKey } from '../protocol/signing-key.js';
import { tenantConfigSchema, type TenantConfig } from '../services/tenant-config.js';
import { ManualClock } from '../../test/helpers/manual-clock.js';
import { DEFAULT_TENANT_LIMITS } from './shard-defaults.js';
import { TenantHost, type TenantLimits } from './tenant-host.js';

const IDLE_MS = 60_000;
const RETRY_MS = 30_000;
const logger = pino({ level: 'silent' });

let dir: string;
let clock: ManualClock;
let starts: number;
const hosts: TenantHost[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'marina-tenant-host-'));
  clock = new ManualClock();
  starts = 0;
});

afterEach(async () => {
  // A test that failed may have left a request unreleased, which retiring would wait for.
  const deadline = new Promise((resolve) => setTimeout(resolve, 2_000));
  await Promise.race([Promise.all(hosts.splice(0).map((host) => host.retire())), deadline]);
  await rm(dir, { recursive: true, force: true });
});

/** A tenant folder as the controller makes one: signing key, SQLite database, media. */
async function tenantConfig(serverName = 'alpha.test'): Promise<TenantConfig> {
  const tenantDir = join(dir, serverName);
  await mkdir(tenantDir, { recursive: true });
  const signingKeyPath = join(tenantDir, 'signing.key');
  await writeFile(signingKeyPath, formatSigningKeyFile([generateSigningKey()]));
  return tenantConfigSchema.parse({
    server_name: serverName,
    hostnames: [serverName],
    database: { dialect: 'sqlite', path: join(tenantDir, 'homeserver.db') },
    media_store: { kind: 'local', path: join(tenantDir, 'media') },
    signing_key_path: signingKeyPath,
    old_verify_keys: [],
    registration_mode: 'closed',
    allow_guest_access: false,
    registration_shared_secret: randomBytes(32).toString('base64url'),
  });
}

function host(config: TenantConfig, limits: Partial<TenantLimits> = {}): TenantHost {
  const created = new TenantHost(config, {
    logger,
    clock,
    idleHibernateMs: IDLE_MS,
    retryFailedAfterMs: RETRY_MS,
    limits: { ...DEFAULT_TENANT_LIMITS, ...limits },
    start: (tenantConfig) => {
      starts += 1;
      return startHomeserver(tenantConfig, { logger, defaultPublicBaseUrl: 'https://x.test' });
    },
  });
  hosts.push(created);
  return created;
}

const ordinary = { longPoll: false };

async function matrixErrorOf(promise: Promise<unknown>): Promise<MatrixError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(MatrixError);
  return error as MatrixError;
}

/** Whether a promise has settled, after letting pending callbacks run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  await new Promise((resolve) => setTimeout(resolve, 20));
  return done;
}

describe('TenantHost', () => {
  it('starts on the first request only, one start shared by concurrent first requests', async () => {
    const tenant = host(await tenantConfig());
    expect(tenant.state).toBe('hibernated');
    expect(starts).toBe(0);
    const admissions = await Promise.all([1, 2, 3].map(() => tenant.admit(ordinary)));
    expect(starts).toBe(1);
    expect(tenant.state).toBe('awake');
    expect(new Set(admissions.map((admission) => admission.context)).size).toBe(1);
    expect(admissions[0]?.context.serverName).toBe('alpha.test');
    expect(tenant.inFlight).toBe(3);
    for (const admission of admissions) admission.release();
    expect(tenant.inFlight).toBe(0);
    expect(tenant.status()).toMatchObject({
      server_name: 'alpha.test',
      state: 'awake',
      requests: 3,
      last_active_ts: clock.now(),
    });
  });

  it('hibernates once idle for the idle time, not while a request is in flight', async () => {
    const tenant = host(await tenantConfig());
    const admission = await tenant.admit(ordinary);
    clock.advance(IDLE_MS * 2);
    expect(tenant.hibernateIfIdle()).toBe(false);
    admission.release();
    clock.advance(IDLE_MS - 1);
    expect(tenant.hibernateIfIdle()).toBe(false);
    clock.advance(1);
    expect(tenant.hibernateIfIdle()).toBe(true);
    await tenant.hibernate();
    expect(tenant.state).toBe('hibernated');
    // Its database is closed: nothing of the homeserver is left running.
    await expect(admission.context.db.read(async () => 1)).rejects.toThrow(/closed/);
  });

  it('does not hibernate a tenant that still has outbound federation due soon', async () => {
    const tenant = host(await tenantConfig());
    const admission = await tenant.admit(ordinary);
    // Another server that cannot be reached: its sender backs off for a second, then retries.
    await admission.context.services.federation.outbound.enqueueEdu(
      'nowhere.invalid',
      'm.presence',
      {
        push: [],
      },
    );
    admission.release();
    clock.advance(IDLE_MS * 2);
    expect(tenant.hibernateIfIdle()).toBe(false);
    expect(tenant.state).toBe('awake');
  });

  it('keeps the data across hibernation and wakes on the next request', async () => {
    const tenant = host(await tenantConfig());
    const first = await tenant.admit(ordinary);
    await first.context.services.registrationTokens.create({ token: 'kept-token' });
    first.release();
    await tenant.hibernate();
    expect(tenant.state).toBe('hibernated');
    const second = await tenant.admit(ordinary);
    expect(starts).toBe(2);
    expect(second.context).not.toBe(first.context);
    expect(await second.context.services.registrationTokens.isValid('kept-token')).toBe(true);
    second.release();
  });

  it('waits for requests in flight before hibernating; a request meanwhile waits and wakes it', async () => {
    const tenant = host(await tenantConfig());
    const inFlight = await tenant.admit(ordinary);
    const hibernation = tenant.hibernate();
    expect(tenant.state).toBe('hibernating');
    expect(tenant.reportedState).toBe('awake');
    const arriving = tenant.admit(ordinary);
    expect(await settled(hibernation)).toBe(false);
    expect(await settled(arriving)).toBe(false);
    // The request in flight still has a working database.
    expect(await inFlight.context.db.read(async () => 'usable')).toBe('usable');
    inFlight.release();
    await hibernation;
    const woken = await arriving;
    expect(starts).toBe(2);
    expect(tenant.state).toBe('awake');
    expect(woken.context).not.toBe(inFlight.context);
    woken.release();
  });

  it('ends the wait of a long-poll when it hibernates, and counts it as in flight until then', async () => {
    const tenant = host(await tenantConfig());
    const longPoll: TenantAdmission = await tenant.admit({ longPoll: true });
    clock.advance(IDLE_MS * 10);
    // A client long-polling keeps its tenant awake.
    expect(tenant.hibernateIfIdle()).toBe(false);
    expect(longPoll.signal?.aborted).toBe(false);
    const hibernation = tenant.hibernate();
    expect(longPoll.signal?.aborted).toBe(true);
    longPoll.release();
    await hibernation;
    expect(tenant.state).toBe('hibernated');
  });

  it('caps requests in flight and refuses past the queue with 429 M_LIMIT_EXCEEDED', async () => {
    const tenant = host(await tenantConfig(), { maxInFlight: 1, maxQueued: 1 });
    // One request that held its slot for 400 ms: the queue of one drains in about that time.
    const first = await tenant.admit(ordinary);
    clock.advance(400);
    first.release();
    const running = await tenant.admit(ordinary);
    const queued = tenant.admit(ordinary);
    expect(tenant.queued).toBe(1);
    const refused = await matrixErrorOf(tenant.admit(ordinary));
    expect(refused.status).toBe(429);
    expect(refused.toJSON()).toMatchObject({ errcode: 'M_LIMIT_EXCEEDED', retry_after_ms: 400 });
    expect(refused.headers).toMatchObject({ 'Retry-After': '1' });
    // Long-polls have a cap of their own: the full queue does not hold them up.
    const longPoll = await tenant.admit({ longPoll: true });
    expect(await settled(queued)).toBe(false);
    running.release();
    (await queued).release();
    longPoll.release();
    expect(tenant.inFlight).toBe(0);
    expect(tenant.status().requests).toBe(5);
  });

  it('answers 503 naming the tenant when its start fails, and tries again after the retry delay', async () => {
    const config = await tenantConfig('broken.test');
    await writeFile(config.signing_key_path, 'not a signing key\n');
    const tenant = host(config);
    const [first, second] = await Promise.all([
      matrixErrorOf(tenant.admit(ordinary)),
      matrixErrorOf(tenant.admit(ordinary)),
    ]);
    for (const error of [first, second]) {
      expect(error.status).toBe(503);
      expect(error.errcode).toBe('M_UNKNOWN');
      expect(error.message).toContain('broken.test');
    }
    expect(starts).toBe(1);
    expect(tenant.status()).toMatchObject({ state: 'failed', error: expect.any(String) });
    expect(tenant.inFlight).toBe(0);

    // Fixed, but within the retry delay: not tried again yet.
    await writeFile(config.signing_key_path, formatSigningKeyFile([generateSigningKey()]));
    clock.advance(RETRY_MS - 1);
    expect((await matrixErrorOf(tenant.admit(ordinary))).status).toBe(503);
    expect(starts).toBe(1);
    clock.advance(1);
    const admission = await tenant.admit(ordinary);
    expect(starts).toBe(2);
    expect(tenant.status().state).toBe('awake');
    expect(tenant.status().error).toBeUndefined();
    admission.release();
  });

  it('takes a new config by hibernating; the next request starts with it', async () => {
    const config = await tenantConfig();
    const tenant = host(config);
    const before = await tenant.admit(ordinary);
    before.release();
    await tenant.reconfigure({ ...config, registration_mode: 'open' });
    expect(tenant.state).toBe('hibernated');
    const after = await tenant.admit(ordinary);
    expect(after.context.config.registration_mode).toBe('open');
    after.release();
    // The same config again changes nothing.
    await tenant.reconfigure({ ...config, registration_mode: 'open' });
    expect(tenant.state).toBe('awake');
  });

  it('once retired, refuses queued and new requests with 404 Not-Served and stops its homeserver', async () => {
    const tenant = host(await tenantConfig(), { maxInFlight: 1 });
    const running = await tenant.admit(ordinary);
    const queued = tenant.admit(ordinary);
    const retired = tenant.retire();
    const refusedInQueue = await matrixErrorOf(queued);
    expect(refusedInQueue.status).toBe(404);
    // Nothing of them ran: the router may send them to the tenant's new shard.
    expect(refusedInQueue.headers).toEqual({ 'X-Marina-Not-Served': '1' });
    const refusedNew = await matrixErrorOf(tenant.admit(ordinary));
    expect(refusedNew.errcode).toBe('M_NOT_FOUND');
    expect(refusedNew.headers).toEqual({ 'X-Marina-Not-Served': '1' });
    running.release();
    await retired;
    expect(tenant.state).toBe('hibernated');
  });
});
