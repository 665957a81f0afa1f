import { once } from 'node:events';
import {
  createServer,
  request,
  type ClientRequest,
  type IncomingMessage,
  type Server,
} from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestBody } from './request-body.js';

/**
 * RequestBody between a real client request and real upstream requests: the first send streams
 * the client's body, later ones send the router's copy, which it keeps only while small.
 */
describe('RequestBody', () => {
  let server: Server;
  let port: number;
  /** Bodies the upstream server received, in order. */
  const received: Buffer[] = [];
  /** Client requests as the router's server sees them. */
  const incoming: IncomingMessage[] = [];
  let upstream: Server;
  let upstreamPort: number;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push(Buffer.concat(chunks));
        res.end('ok');
      });
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    upstreamPort = (upstream.address() as { port: number }).port;
    server = createServer((req) => incoming.push(req));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    upstream.closeAllConnections();
    server.close();
    upstream.close();
  });

  /** Sends `body` to the router side and returns the request as the server got it. */
  async function clientSends(body: Buffer | undefined): Promise<IncomingMessage> {
    const before = incoming.length;
    const client = request({ port, method: body ? 'POST' : 'GET', path: '/' });
    client.on('error', () => {});
    client.end(body);
    while (incoming.length === before) await new Promise((resolve) => setTimeout(resolve, 5));
    return incoming[before] as IncomingMessage;
  }

  async function sendUpstream(body: RequestBody): Promise<Buffer> {
    const before = received.length;
    const out: ClientRequest = request({
      port: upstreamPort,
      method: 'POST',
      path: '/',
      headers: { 'Transfer-Encoding': 'chunked' },
    });
    const answered = once(out, 'response');
    body.sendTo(out);
    const [res] = (await answered) as [IncomingMessage];
    res.resume();
    await once(res, 'end');
    return received[before] as Buffer;
  }

  it('streams a small body, then sends the same bytes again from its copy', async () => {
    const bytes = Buffer.from(JSON.stringify({ hello: 'world', n: [1, 2, 3] }));
    const body = new RequestBody(await clientSends(bytes));
    expect(body.replayable).toBe(false);
    expect((await sendUpstream(body)).equals(bytes)).toBe(true);
    expect(body.replayable).toBe(true);
    expect((await sendUpstream(body)).equals(bytes)).toBe(true);
  });

  it('can send a request without a body again', async () => {
    const body = new RequestBody(await clientSends(undefined));
    expect((await sendUpstream(body)).length).toBe(0);
    expect(body.replayable).toBe(true);
    expect((await sendUpstream(body)).length).toBe(0);
  });

  it('keeps no copy of a body larger than its limit', async () => {
    const bytes = Buffer.alloc(2_000, 7);
    const body = new RequestBody(await clientSends(bytes), 1_000);
    expect((await sendUpstream(body)).equals(bytes)).toBe(true);
    expect(body.replayable).toBe(false);
    const again = request({ port: upstreamPort, method: 'POST' });
    again.on('error', () => {});
    expect(() => body.sendTo(again)).toThrow(/cannot be resent/);
    again.destroy();
  });
});
