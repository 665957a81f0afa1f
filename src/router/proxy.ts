import { request, type Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { endToEndHeaders } from './forwarded-headers.js';
import { sendRouterError, shardUnreachable } from './router-errors.js';

export interface ProxyTarget {
  /** The shard's traffic origin. */
  readonly url: URL;
  readonly agent: Agent;
  readonly serverName: string;
  /** Raw request headers for the shard (see upstreamRequestHeaders). */
  readonly headers: readonly string[];
}

export interface ProxyOutcome {
  /** The status the client got (0 when it went away before any). */
  readonly status: number;
  /** Why the exchange failed, if it did. */
  readonly failure?: 'shard-unreachable' | 'shard-failed-mid-response' | 'client-gone';
  readonly error?: Error;
}

export class ConnectTimeoutError extends Error {
  readonly code = 'ECONNECTTIMEOUT';
  constructor(ms: number) {
    super(`no connection to the shard within ${ms} ms`);
  }
}

/**
 * Forwards one request to its shard and the shard's response to the client, both bodies
 * streamed with back-pressure (`pipe`): the router holds at most a stream buffer of either, never
 * a whole upload or download. Only connecting has a deadline; once connected the shard may take
 * as long as it needs (a `/sync` long-poll answers after the client's timeout). A client that
 * goes away aborts the shard's request; a shard that fails before answering gives 502, one that
 * fails mid-response cuts the client's response short (never a truncated "complete" answer).
 */
export function proxyRequest(
  req: IncomingMessage,
  res: ServerResponse,
  target: ProxyTarget,
  connectTimeoutMs: number,
): Promise<ProxyOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: ProxyOutcome) => {
      if (settled) return;
      settled = true;
      resolve(outcome);
    };

    const upstream = request({
      protocol: 'http:',
      hostname: target.url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: target.url.port || 80,
      method: req.method,
      path: req.url,
      headers: target.headers as string[],
      agent: target.agent,
      setHost: false,
    });

    upstream.on('socket', (socket: Socket) => {
      if (!socket.connecting) return; // a pooled connection, already open
      const timer = setTimeout(
        () => upstream.destroy(new ConnectTimeoutError(connectTimeoutMs)),
        connectTimeoutMs,
      );
      const clear = () => clearTimeout(timer);
      socket.once('connect', clear);
      socket.once('close', clear);
    });

    upstream.on('response', (upstreamRes: IncomingMessage) => {
      try {
        res.writeHead(
          upstreamRes.statusCode ?? 502,
          upstreamRes.statusMessage,
          endToEndHeaders(upstreamRes.rawHeaders),
        );
      } catch (error) {
        // A response node refuses to send on (an invalid header): as if the shard had failed.
        upstream.destroy(error as Error);
        return;
      }
      upstreamRes.pipe(res);
      upstreamRes.on('error', () => res.destroy());
      upstreamRes.on('close', () => {
        if (!upstreamRes.complete) {
          res.destroy();
          settle({ status: res.statusCode, failure: 'shard-failed-mid-response' });
        }
      });
    });

    upstream.on('error', (error: Error) => {
      if (settled) return;
      if (res.headersSent) {
        res.destroy();
        settle({ status: res.statusCode, failure: 'shard-failed-mid-response', error });
        return;
      }
      // Nothing more of the client's body goes anywhere: drop it, and the connection with it
      // when it is still coming.
      req.unpipe(upstream);
      if (!req.complete) res.setHeader('Connection', 'close');
      req.resume();
      sendRouterError(res, shardUnreachable(target.serverName));
      settle({ status: res.statusCode, failure: 'shard-unreachable', error });
    });

    req.on('error', () => upstream.destroy());
    res.on('finish', () => settle({ status: res.statusCode }));
    res.on('close', () => {
      if (res.writableFinished) return;
      upstream.destroy();
      settle({ status: res.headersSent ? res.statusCode : 0, failure: 'client-gone' });
    });

    req.pipe(upstream);
  });
}
