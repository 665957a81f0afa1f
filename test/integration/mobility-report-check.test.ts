import { describe, expect, it } from 'vitest';
import { checkSteadyReport, type SteadyReport } from '../helpers/steady-clients.js';

/**
 * The checker of the mobility proofs finds what it must: a proof that passes because its
 * checker sees nothing would prove nothing. Reports built by hand, one fault each.
 */

const sentBy = (client: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    body: `${client} #${i + 1}`,
    eventId: `$${client}-${i + 1}`,
    attempts: 1,
    ms: 5,
  }));

/** Two senders of three messages each, seen interleaved by two /sync streams. */
function cleanReport(): SteadyReport {
  const sent = { 'client-0': sentBy('client-0', 3), 'client-1': sentBy('client-1', 3) };
  const room = [0, 1, 2].flatMap((i) => [sent['client-0'][i]!, sent['client-1'][i]!]);
  const view = () => room.map(({ body, eventId }) => ({ body, eventId }));
  return {
    serverName: 'check.localhost',
    roomId: '!room',
    startedAt: 1_000,
    stoppedAt: 2_000,
    failures: [],
    sent,
    unacknowledged: { 'client-0': [], 'client-1': [] },
    received: { 'client-0': view(), 'client-1': view() },
    gaps: { 'client-0': 0, 'client-1': 0 },
  };
}

describe('checkSteadyReport', () => {
  it('passes a clean report', () => {
    expect(checkSteadyReport(cleanReport(), { minSentPerClient: 3 })).toEqual([]);
  });

  it('reports failed requests unless allowed, alike ones on one line', () => {
    const report = cleanReport();
    const send = (client: string, txnId: string, at: number) => ({
      client,
      method: 'PUT',
      path: `/_matrix/client/v3/rooms/!room/send/m.room.message/${txnId}`,
      status: 503,
      errcode: 'M_UNKNOWN',
      retryAfter: '1',
      at,
    });
    report.failures.push(
      send('client-1', 'client-1-2', 1_500),
      send('client-0', 'client-0-3', 1_520),
      send('client-1', 'client-1-2', 1_700),
      {
        client: 'client-0',
        method: 'GET',
        path: '/_matrix/client/v3/sync',
        status: 0,
        error: 'Error: connect ECONNREFUSED',
        at: 1_600,
      },
    );
    expect(checkSteadyReport(report)).toEqual([
      'failed requests: 3 × PUT /_matrix/client/v3/rooms/{roomId}/send/m.room.message/{txnId} → 503 M_UNKNOWN (client-0, client-1; from +500 to +700 ms)',
      'failed requests: 1 × GET /_matrix/client/v3/sync → 0 (Error: connect ECONNREFUSED) (client-0; at +600 ms)',
    ]);
    expect(
      checkSteadyReport(report, { allowFailure: (f) => f.status === 503 || f.status === 0 }),
    ).toEqual([]);
  });

  it('reports a lost, a doubled, a reordered and a re-sent message', () => {
    const lost = cleanReport();
    lost.received['client-1']!.splice(2, 1); // client-0 #2
    expect(checkSteadyReport(lost)).toEqual([
      'client-1 ← client-0: sent 3, received 2; missing client-0 #2',
      'client-1 saw the room in another order than client-0: [client-0 #1, client-1 #1, client-1 #2, client-0 #3, client-1 #3] instead of [client-0 #1, client-1 #1, client-0 #2, client-1 #2, client-0 #3] from position 0',
    ]);

    const doubled = cleanReport();
    doubled.received['client-0']!.push({ ...doubled.received['client-0']![0]! });
    expect(checkSteadyReport(doubled)[0]).toBe(
      'client-0 ← client-0: sent 3, received 4; duplicated client-0 #1 ×2',
    );

    const reordered = cleanReport();
    const view = reordered.received['client-1']!;
    [view[0], view[2]] = [view[2]!, view[0]!]; // client-0 #2 before client-0 #1
    expect(checkSteadyReport(reordered)[0]).toBe(
      'client-1 ← client-0: sent 3, received 3; out of order',
    );

    // The same body under another event ID: the send was not idempotent.
    const resent = cleanReport();
    resent.received['client-0']![4] = { body: 'client-0 #3', eventId: '$other' };
    expect(checkSteadyReport(resent)[0]).toBe(
      'client-0 ← client-0: sent 3, received 3; other event ID for client-0 #3',
    );
  });

  it('reports limited syncs, unacknowledged sends and too few sends', () => {
    const report = cleanReport();
    report.gaps['client-0'] = 1;
    report.unacknowledged['client-1'] = ['client-1 #4'];
    expect(checkSteadyReport(report, { minSentPerClient: 4 })).toEqual([
      'client-1: never acknowledged: client-1 #4',
      'client-0: only 3 acknowledged sends (want ≥ 4)',
      'client-1: only 3 acknowledged sends (want ≥ 4)',
      'client-0: 1 limited /sync timelines',
    ]);
  });

  it('accepts a send given up at stop that landed after all, at the end', () => {
    const report = cleanReport();
    report.unacknowledged['client-1'] = ['client-1 #4'];
    for (const view of Object.values(report.received)) {
      view.push({ body: 'client-1 #4', eventId: '$late' });
    }
    expect(checkSteadyReport(report)).toEqual(['client-1: never acknowledged: client-1 #4']);
  });
});
