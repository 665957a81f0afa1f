import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A transaction as the fixture received it. */
export interface ReceivedTransaction {
  readonly txnId: string;
  readonly host: string | undefined;
  readonly authorization: string | undefined;
  readonly body: {
    origin: string;
    origin_server_ts: number;
    pdus: Array<Record<string, unknown>>;
    edus?: Array<{ edu_type: string; content: Record<string, unknown> }>;
  };
}

/** How the fixture answers the next transactions. */
export type FixtureMode =
  | { kind: 'ok'; pduErrors?: Record<string, string> }
  | { kind: 'fail'; status: number }
  /** Never answers (a dead or very slow server). */
  | { kind: 'hang' };

/**
 * A stand-in for another homeserver's `PUT /_matrix/federation/v1/send/{txnId}`: records every
 * transaction and answers as `mode` says. It verifies nothing (not our code under test).
 */
export interface SendFixture {
  readonly hostPort: string;
  readonly received: ReceivedTransaction[];
  mode: FixtureMode;
  /** Resolves once `count` transactions in total were received. */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startSendFixture(): Promise<SendFixture> {
  const received: ReceivedTransaction[] = [];
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const hanging = new Set<IncomingMessage>();
  const fixture: SendFixture = {
    hostPort: '',
    received,
    mode: { kind: 'ok' },
    waitFor: (count, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        if (received.length >= count) {
          resolve();
          return;
        }
        const timer = setTimeout(
          () => reject(new Error(`only ${received.length} of ${count} transactions arrived`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      }),
    close: () =>
      new Promise((resolve) => {
        for (const req of hanging) req.socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const match = /^\/_matrix\/federation\/v1\/send\/([^/?]+)$/.exec(req.url ?? '');
      if (req.method !== 'PUT' || match === null) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"errcode":"M_UNRECOGNIZED","error":"no"}');
        return;
      }
      const mode = fixture.mode;
      const body = JSON.parse(
        Buffer.concat(chunks).toString('utf8'),
      ) as ReceivedTransaction['body'];
      received.push({
        txnId: decodeURIComponent(match[1] ?? ''),
        host: req.headers.host,
        authorization: req.headers.authorization,
        body,
      });
      for (const waiter of waiters.filter((w) => received.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      if (mode.kind === 'hang') {
        hanging.add(req);
        return;
      }
      if (mode.kind === 'fail') {
        res.writeHead(mode.status, { 'content-type': 'application/json' });
        res.end('{"errcode":"M_UNKNOWN","error":"failing on purpose"}');
        return;
      }
      const pdus: Record<string, unknown> = {};
      for (const [eventId, error] of Object.entries(mode.pduErrors ?? {}))
        pdus[eventId] = { error };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ pdus }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  (fixture as { hostPort: string }).hostPort = `127.0.0.1:${port}`;
  return fixture;
}
