import { afterEach, describe, expect, it } from 'vitest';
import { openTestDatabaseConfig } from '../../../test/helpers/test-database.js';
import { openTenantDatabase, type TenantDatabase } from '../tenant-database.js';
import {
  clearDestinationRetry,
  countOutboundRows,
  deleteOutboundRows,
  insertOutboundItem,
  recordDestinationFailure,
  recordDestinationSuccess,
  selectDestinationState,
  selectOutboundBatch,
  selectQueuedDestinations,
} from './outbound-queue.js';

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function open(): Promise<TenantDatabase> {
  const { config, cleanup } = await openTestDatabaseConfig();
  const db = await openTenantDatabase(config, { serverName: 'alpha.test' });
  cleanups.push(cleanup, () => db.close());
  return db;
}

describe('federation outbound queue storage', () => {
  it('queues items per destination in order, with one position per item', async () => {
    const db = await open();
    const first = await db.transact((trx) =>
      insertOutboundItem(trx, ['beta.test', 'gamma.test'], { kind: 'pdu', eventId: '$a' }),
    );
    const second = await db.transact((trx) =>
      insertOutboundItem(trx, ['beta.test'], {
        kind: 'edu',
        eduType: 'm.receipt',
        content: '{"x":1}',
      }),
    );
    const third = await db.transact((trx) =>
      insertOutboundItem(trx, ['beta.test'], { kind: 'pdu', eventId: '$b' }),
    );
    expect(second).toBeGreaterThan(first);
    expect(third).toBeGreaterThan(second);

    const batch = await db.read((d) => selectOutboundBatch(d, 'beta.test', 50, 100));
    expect(batch).toEqual([
      { kind: 'pdu', queueId: first, eventId: '$a' },
      { kind: 'edu', queueId: second, eduType: 'm.receipt', content: '{"x":1}' },
      { kind: 'pdu', queueId: third, eventId: '$b' },
    ]);
    expect(await db.read((d) => selectOutboundBatch(d, 'gamma.test', 50, 100))).toEqual([
      { kind: 'pdu', queueId: first, eventId: '$a' },
    ]);
    expect(await db.read((d) => selectQueuedDestinations(d))).toEqual(['beta.test', 'gamma.test']);
    // Each destination got a backoff row, ready now.
    expect(await db.read((d) => selectDestinationState(d, 'gamma.test'))).toEqual({
      destination: 'gamma.test',
      failures: 0,
      retryAtTs: 0,
      lastSuccessTs: null,
      lastError: null,
    });
  });

  it('limits a batch to the first PDUs and the first EDUs', async () => {
    const db = await open();
    for (let i = 0; i < 5; i++) {
      await db.transact(async (trx) => {
        await insertOutboundItem(trx, ['beta.test'], { kind: 'pdu', eventId: `$p${i}` });
        await insertOutboundItem(trx, ['beta.test'], {
          kind: 'edu',
          eduType: 'm.presence',
          content: `{"i":${i}}`,
        });
      });
    }
    const batch = await db.read((d) => selectOutboundBatch(d, 'beta.test', 2, 3));
    expect(batch.map((row) => (row.kind === 'pdu' ? row.eventId : row.content))).toEqual([
      '$p0',
      '{"i":0}',
      '$p1',
      '{"i":1}',
      '{"i":2}',
    ]);
  });

  it('deletes sent rows of one destination only', async () => {
    const db = await open();
    const queueId = await db.transact((trx) =>
      insertOutboundItem(trx, ['beta.test', 'gamma.test'], { kind: 'pdu', eventId: '$a' }),
    );
    await db.transact((trx) =>
      insertOutboundItem(trx, ['beta.test'], { kind: 'pdu', eventId: '$b' }),
    );
    await db.transact((trx) => deleteOutboundRows(trx, 'beta.test', [queueId]));
    expect(await db.read((d) => countOutboundRows(d, 'beta.test'))).toBe(1);
    expect(await db.read((d) => countOutboundRows(d, 'gamma.test'))).toBe(1);
    await db.transact((trx) => deleteOutboundRows(trx, 'gamma.test', [queueId]));
    expect(await db.read((d) => selectQueuedDestinations(d))).toEqual(['beta.test']);
  });

  it("keeps each destination's backoff, cleared by a success or by signs of life", async () => {
    const db = await open();
    await db.transact((trx) => recordDestinationFailure(trx, 'beta.test', 3, 9_000, 'timeout'));
    expect(await db.read((d) => selectDestinationState(d, 'beta.test'))).toMatchObject({
      failures: 3,
      retryAtTs: 9_000,
      lastError: 'timeout',
    });
    await db.transact((trx) => clearDestinationRetry(trx, 'beta.test'));
    expect(await db.read((d) => selectDestinationState(d, 'beta.test'))).toMatchObject({
      failures: 3,
      retryAtTs: 0,
    });
    await db.transact((trx) => recordDestinationSuccess(trx, 'beta.test', 10_000));
    expect(await db.read((d) => selectDestinationState(d, 'beta.test'))).toEqual({
      destination: 'beta.test',
      failures: 0,
      retryAtTs: 0,
      lastSuccessTs: 10_000,
      lastError: null,
    });
    // Queueing for a known destination leaves its state alone.
    await db.transact((trx) => recordDestinationFailure(trx, 'beta.test', 1, 500, 'refused'));
    await db.transact((trx) =>
      insertOutboundItem(trx, ['beta.test'], { kind: 'pdu', eventId: '$a' }),
    );
    expect(await db.read((d) => selectDestinationState(d, 'beta.test'))).toMatchObject({
      failures: 1,
      retryAtTs: 500,
      lastSuccessTs: 10_000,
    });
  });
});
