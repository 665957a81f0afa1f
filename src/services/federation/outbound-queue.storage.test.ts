import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startSendFixture,
  type SendFixture,
} from '../../../test/helpers/federation-send-fixture.js';
import { openRoomServices, type TestRoomServices } from '../../../test/helpers/room-services.js';
import { systemClock } from '../../core/clock.js';
import {
  countOutboundRows,
  selectDestinationState,
} from '../../storage/federation/outbound-queue.js';
import { FederationHttpClient } from './federation-http-client.js';
import { OutboundQueue, type OutboundQueueOptions } from './outbound-queue.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

interface Setup {
  s: TestRoomServices;
  alice: string;
  roomId: string;
  beta: SendFixture;
  gamma: SendFixture;
  queue(options?: OutboundQueueOptions): OutboundQueue;
  send(count: number, from?: number): Promise<string[]>;
}

async function setup(): Promise<Setup> {
  const s = await openRoomServices();
  cleanups.push(() => s.close());
  const alice = await s.createUser('alice');
  const roomId = await s.rooms.roomCreation.create(alice, { preset: 'public_chat' });
  const beta = await startSendFixture();
  const gamma = await startSendFixture();
  cleanups.push(
    () => beta.close(),
    () => gamma.close(),
  );
  const logger = pino({ level: 'silent' });
  const client = new FederationHttpClient({
    serverName: s.config.server_name,
    signingKey: s.serverKeys.signingKey,
    logger,
    plainHttp: { 'beta.test': beta.hostPort, 'gamma.test': gamma.hostPort },
  });
  return {
    s,
    alice,
    roomId,
    beta,
    gamma,
    queue: (options = {}) => {
      const queue = new OutboundQueue({
        serverName: s.config.server_name,
        db: s.db,
        clock: systemClock,
        logger,
        client,
        roomGraph: s.rooms.roomGraph,
        options: { initialBackoffMs: 50, requestTimeoutMs: 5_000, ...options },
      });
      cleanups.push(() => queue.stop());
      return queue;
    },
    send: async (count, from = 0) => {
      const ids: string[] = [];
      for (let i = from; i < from + count; i++) {
        ids.push(
          await s.rooms.roomMessages.send(
            { userId: alice, deviceId: 'D', isAdmin: false },
            roomId,
            'm.room.message',
            `t${i}`,
            { body: String(i) },
          ),
        );
      }
      return ids;
    },
  };
}

describe('OutboundQueue', () => {
  it('sends queued PDUs and EDUs as one signed transaction and removes them after a 200', async () => {
    const t = await setup();
    const queue = t.queue();
    const [eventId] = await t.send(1);
    await queue.enqueuePdu(eventId as string, ['beta.test', 'alpha.test']);
    await queue.enqueueEdu('beta.test', 'm.receipt', { [t.roomId]: {} });
    await t.beta.waitFor(1);
    await queue.idle();
    const all = t.beta.received;
    const edus = all.flatMap((txn) => txn.body.edus ?? []);
    const pdus = all.flatMap((txn) => txn.body.pdus);
    expect(pdus).toHaveLength(1);
    const stored = await t.s.rooms.roomGraph.getEvent(eventId as string);
    expect(pdus[0]).toEqual(stored?.pdu);
    expect(edus).toEqual([{ edu_type: 'm.receipt', content: { [t.roomId]: {} } }]);
    expect(all[0]?.body.origin).toBe('alpha.test');
    expect(all[0]?.host).toBe('beta.test');
    expect(all[0]?.authorization).toMatch(/^X-Matrix origin="?alpha\.test"?,/);
    expect(await t.s.db.read((db) => countOutboundRows(db, 'beta.test'))).toBe(0);
    // Our own server is never a destination.
    expect(await t.s.db.read((db) => countOutboundRows(db, 'alpha.test'))).toBe(0);
    expect(await t.s.db.read((db) => selectDestinationState(db, 'beta.test'))).toMatchObject({
      failures: 0,
      retryAtTs: 0,
    });
  });

  it('splits a backlog into transactions of at most 50 PDUs, in order, with unique IDs', async () => {
    const t = await setup();
    const ids = await t.send(120);
    const queue = t.queue();
    // Queued while no sender runs (as after a restart), then resumed by start().
    await t.s.db.transact(async (trx) => {
      for (const id of ids) await queue.enqueuePdu(id, ['beta.test'], trx);
    });
    await queue.start();
    await t.beta.waitFor(3);
    await queue.idle();
    expect(t.beta.received.map((txn) => txn.body.pdus.length)).toEqual([50, 50, 20]);
    const bodies = t.beta.received.flatMap((txn) =>
      txn.body.pdus.map((pdu) => (pdu['content'] as { body: string }).body),
    );
    expect(bodies).toEqual(ids.map((_, i) => String(i)));
    expect(new Set(t.beta.received.map((txn) => txn.txnId)).size).toBe(3);
  });

  it('backs a failing destination off, keeps its rows, and delivers once it is back', async () => {
    const t = await setup();
    t.beta.mode = { kind: 'fail', status: 500 };
    const queue = t.queue({ initialBackoffMs: 200 });
    const [eventId] = await t.send(1);
    await queue.enqueuePdu(eventId as string, ['beta.test']);
    await t.beta.waitFor(1);
    await waitUntil(async () => {
      const state = await t.s.db.read((db) => selectDestinationState(db, 'beta.test'));
      return (state?.failures ?? 0) >= 1;
    });
    const state = await t.s.db.read((db) => selectDestinationState(db, 'beta.test'));
    expect(state?.retryAtTs).toBeGreaterThan(Date.now() - 1_000);
    expect(state?.lastError).toMatch(/failing on purpose/);
    expect(await t.s.db.read((db) => countOutboundRows(db, 'beta.test'))).toBe(1);
    t.beta.mode = { kind: 'ok' };
    await t.beta.waitFor(2 + 0);
    await waitUntil(
      async () => (await t.s.db.read((db) => countOutboundRows(db, 'beta.test'))) === 0,
    );
    // The retry is a new transaction with the same PDU.
    const last = t.beta.received.at(-1);
    expect(last?.body.pdus).toHaveLength(1);
    expect(last?.txnId).not.toBe(t.beta.received[0]?.txnId);
    expect(await t.s.db.read((db) => selectDestinationState(db, 'beta.test'))).toMatchObject({
      failures: 0,
      retryAtTs: 0,
    });
  });

  it('retries a backed-off destination at once when it sends us a request', async () => {
    const t = await setup();
    t.beta.mode = { kind: 'fail', status: 502 };
    const queue = t.queue({ initialBackoffMs: 60 * 60 * 1000 });
    const [eventId] = await t.send(1);
    await queue.enqueuePdu(eventId as string, ['beta.test']);
    await t.beta.waitFor(1);
    await waitUntil(async () => {
      const state = await t.s.db.read((db) => selectDestinationState(db, 'beta.test'));
      return (state?.failures ?? 0) === 1;
    });
    t.beta.mode = { kind: 'ok' };
    // New work does not skip the backoff...
    await queue.enqueueEdu('beta.test', 'm.presence', { push: [] });
    await sleep(200);
    expect(t.beta.received).toHaveLength(1);
    // ...but a request from the destination does.
    queue.onRemoteActivity('beta.test');
    await t.beta.waitFor(2);
    await waitUntil(
      async () => (await t.s.db.read((db) => countOutboundRows(db, 'beta.test'))) === 0,
    );
    expect(t.beta.received[1]?.body.pdus).toHaveLength(1);
    expect(t.beta.received[1]?.body.edus).toEqual([
      { edu_type: 'm.presence', content: { push: [] } },
    ]);
  });

  it('never lets a dead destination delay another one', async () => {
    const t = await setup();
    t.beta.mode = { kind: 'hang' };
    const queue = t.queue({ requestTimeoutMs: 30_000 });
    const ids = await t.send(3);
    for (const id of ids) await queue.enqueuePdu(id, ['beta.test', 'gamma.test']);
    await t.beta.waitFor(1);
    await t.gamma.waitFor(1);
    await waitUntil(
      async () => (await t.s.db.read((db) => countOutboundRows(db, 'gamma.test'))) === 0,
    );
    expect(t.gamma.received.flatMap((txn) => txn.body.pdus)).toHaveLength(3);
    // Beta still hangs: its rows stay.
    expect(await t.s.db.read((db) => countOutboundRows(db, 'beta.test'))).toBe(3);
  });

  it('stops promptly without losing rows, and a new instance catches up', async () => {
    const t = await setup();
    t.beta.mode = { kind: 'hang' };
    const first = t.queue({ requestTimeoutMs: 30_000 });
    const ids = await t.send(2);
    for (const id of ids) await first.enqueuePdu(id, ['beta.test']);
    await t.beta.waitFor(1);
    const started = Date.now();
    await first.stop();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await t.s.db.read((db) => countOutboundRows(db, 'beta.test'))).toBe(2);

    t.beta.mode = { kind: 'ok' };
    const second = t.queue();
    await second.start();
    await t.beta.waitFor(2);
    await second.idle();
    expect(t.beta.received.at(-1)?.body.pdus).toHaveLength(2);
    expect(await t.s.db.read((db) => countOutboundRows(db, 'beta.test'))).toBe(0);
  });

  it('does not retry a PDU the receiver refused', async () => {
    const t = await setup();
    const [eventId] = await t.send(1);
    t.beta.mode = { kind: 'ok', pduErrors: { [eventId as string]: 'not allowed' } };
    const queue = t.queue();
    await queue.enqueuePdu(eventId as string, ['beta.test']);
    await t.beta.waitFor(1);
    await queue.idle();
    expect(await t.s.db.read((db) => countOutboundRows(db, 'beta.test'))).toBe(0);
    await sleep(150);
    expect(t.beta.received).toHaveLength(1);
  });

  it('counts sent and failed transactions, delivered PDUs and EDUs, and destination states', async () => {
    const t = await setup();
    t.beta.mode = { kind: 'fail', status: 500 };
    const queue = t.queue({ initialBackoffMs: 60 * 60 * 1000 });
    expect(queue.stats()).toEqual({
      transactionsSent: 0,
      transactionsFailed: 0,
      pdusSent: 0,
      edusSent: 0,
      destinations: { sending: 0, backing_off: 0, idle: 0 },
    });
    const [first, second] = await t.send(2);
    // Queued together, so that each destination gets them in one transaction.
    await t.s.db.transact(async (trx) => {
      await queue.enqueuePdu(first as string, ['beta.test', 'gamma.test'], trx);
      await queue.enqueueEdu(['beta.test', 'gamma.test'], 'm.receipt', { [t.roomId]: {} }, trx);
    });
    queue.kick(['beta.test', 'gamma.test']);
    await t.gamma.waitFor(1);
    await waitUntil(async () => queue.stats().transactionsFailed === 1);
    // Gamma took it (1 PDU, 1 EDU) and went idle; beta failed and waits out an hour.
    await waitUntil(async () => queue.stats().destinations.idle === 1);
    expect(queue.stats()).toEqual({
      transactionsSent: 1,
      transactionsFailed: 1,
      pdusSent: 1,
      edusSent: 1,
      destinations: { sending: 0, backing_off: 1, idle: 1 },
    });

    t.beta.mode = { kind: 'ok' };
    await queue.enqueuePdu(second as string, ['beta.test']);
    queue.onRemoteActivity('beta.test');
    await t.beta.waitFor(2);
    await waitUntil(
      async () => (await t.s.db.read((db) => countOutboundRows(db, 'beta.test'))) === 0,
    );
    await queue.idle();
    // Beta's one transaction carried both PDUs and the EDU; the failed one counts once.
    expect(t.beta.received).toHaveLength(2);
    expect(queue.stats()).toEqual({
      transactionsSent: 2,
      transactionsFailed: 1,
      pdusSent: 3,
      edusSent: 2,
      destinations: { sending: 0, backing_off: 0, idle: 2 },
    });
  });

  it('sends ephemeral EDUs without persisting them', async () => {
    const t = await setup();
    const queue = t.queue();
    const typing = { room_id: t.roomId, user_id: t.alice, typing: true };
    queue.sendEphemeralEdu(['beta.test', 'gamma.test', 'alpha.test'], 'm.typing', typing);
    expect(await t.s.db.read((db) => countOutboundRows(db, 'beta.test'))).toBe(0);
    await t.beta.waitFor(1);
    await t.gamma.waitFor(1);
    await queue.idle();
    expect(t.beta.received[0]?.body.edus).toEqual([{ edu_type: 'm.typing', content: typing }]);
    expect(t.beta.received[0]?.body.pdus).toEqual([]);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
