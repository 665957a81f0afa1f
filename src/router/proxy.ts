import { request, type Agent, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { endToEndHeaders } from './forwarded-headers.js';
import type { RequestBody } from './request-body.js';
import { sendRouterError, shardUnreachable } from './router-errors.js';

/**
 * Set by a shard on an answer to a request it did not serve at all because the tenant is not (or
 * no longer) there (src/shard/tenant-host.ts): the router may send such a request again to the
 * tenant's new shard. It never reaches a client.
 */
export const NOT_SERVED_HEADER = 'x-marina-not-served';

export interface ProxyTarget {
  /** The shard's traffic origin. */
  readonly url: URL;
  readonly agent: Agent;
  readonly serverName: string;
  /** Raw request headers for the shard (see upstreamRequestHeaders). */
  readonly headers: readonly string[];
  /** The client's body: streamed the first time, from the router's copy when replayed. */
  readonly body: RequestBody;
  /**
   * The router would send this request again if the shard did not serve it: a Not-Served answer
   * is then kept from the client (when the router holds the whole body) and reported instead.
   */
  readonly mayReplay: boolean;
}

export interface ProxyOutcome {
  /** The status the client got (0 when it went away before any). */
  readonly status: number;
  /** Why the exchange failed, if it did. */
  readonly failure?: 'shard-unreachable' | 'shard-failed-mid-response' | 'client-gone';
  readonly error?: Error;
  /**
   * The shard did not serve the request (its tenant is not there) and nothing was sent to the
   * client: the request can be sent again. `status` is then the shard's.
   */
  readonly notServed?: boolean;
}
export class ConnectTimeoutError extends Error {
  readonly code = 'ECONNECTTIMEOUT';
  constructor(ms: number) {
    super(`no connection to the shard within ${ms} ms`);
  }
}

/**
 * Forwards one request to its shard and the shard's response to the client, both bodies
 * streamed with back-pressure (`pipe`): the router holds at most a stream buffer of either (and
 * a copy of a small request body, see RequestBody). Only connecting has a deadline; once
 * connected the shard may take as long as it needs (a `/sync` long-poll answers after the
 * client's timeout). A client that goes away aborts the shard's request; a shard that fails
 * before answering gives 503, one that fails mid-response cuts the client's response short
 * (never a truncated "complete" answer). A Not-Served answer to a request the router can send
 * again is reported (`notServed`) instead of passed on; otherwise it passes without its header.
 * Each call takes its listeners off the client's request and response when it settles, so a
 * request sent several times does not pile them up.
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
      req.off('error', onClientError);
      res.off('finish', onFinished);
      res.off('close', onClosed);
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
      if (settled) {
        upstreamRes.resume();
        return;
      }
      const notServed = upstreamRes.headers[NOT_SERVED_HEADER] === '1';
      if (notServed && target.mayReplay && target.body.replayable) {
        // Read and dropped, so that its connection goes back to the pool.
        upstreamRes.resume();
        settle({ status: upstreamRes.statusCode ?? 404, notServed: true });
        return;
      }
      try {
        res.writeHead(
          upstreamRes.statusCode ?? 502,
          upstreamRes.statusMessage,
          clientResponseHeaders(upstreamRes.rawHeaders),
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

    function onClientError(): void {
      upstream.destroy();
    }
    function onFinished(): void {
      settle({ status: res.statusCode });
    }
    function onClosed(): void {
      if (res.writableFinished) return;
      upstream.destroy();
      settle({ status: res.headersSent ? res.statusCode : 0, failure: 'client-gone' });
    }
    req.on('error', onClientError);
    res.on('finish', onFinished);
    res.on('close', onClosed);

    target.body.sendTo(upstream);
  });
}

/** A shard's response headers as the client gets them: end-to-end ones, Not-Served dropped. */
function clientResponseHeaders(rawHeaders: readonly string[]): string[] {
  const headers = endToEndHeaders(rawHeaders);
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]?.toLowerCase() === NOT_SERVED_HEADER) continue;
    kept.push(headers[i] ?? '', headers[i + 1] ?? '');
  }
  return kept;
}
