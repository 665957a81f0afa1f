import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { unknownError, type MatrixError } from '../core/errors.js';
import { upstreamRequestHeaders } from './forwarded-headers.js';
import { isInternalPath, pathWithoutQuery } from './internal-paths.js';
import { OutageLog } from './outage-log.js';
import type { Placement } from './placement.js';
import type { PlacementSource } from './placement-source.js';
import { PlacementTable } from './placement-table.js';
import { PlacementWaiters, type WaitOutcome } from './placement-waiters.js';
import { proxyRequest, type ProxyOutcome } from './proxy.js';
import { RequestBody } from './request-body.js';
import { requestHost } from './request-host.js';
import {
  badRequestTarget,
  internalPathRefused,
  moveNotOver,
  noHomeserverAt,
  noPlacementYet,
  sendRouterError,
  tenantUnplaced,
} from './router-errors.js';
import { ShardAgents } from './shard-agents.js';
import { plainAddress, TrustedProxies } from './trusted-proxies.js';

export interface RouterOptions {
  readonly logger: Logger;
  readonly source: PlacementSource;
  /** Where to listen; port 0 picks a free port. */
  readonly listen: { host: string; port: number };
  /** Peers (IPs, CIDR ranges) whose `X-Forwarded-*` headers are believed. */
  readonly trustedProxies?: readonly string[];
  /**
   * Serves this tenant for requests addressed by IP address or with no host (`localhost` under
   * `marina up`); a host name reaches only the tenant that claims it.
   */
  readonly defaultTenant?: string;
  /** How long connecting to a shard may take before the client gets 503 (default 5 s). */
  readonly connectTimeoutMs?: number;
  /**
   * How long a request may wait, in all, for placements while its tenant moves (held, or to be
   * replayed after its shard did not serve it) before it gets 503 (default 30 s).
   */
  readonly moveHoldMs?: number;
  /** How long a request that arrives before the first placement waits for it (default 10 s). */
  readonly firstPlacementWaitMs?: number;
  /** How long `stop()` lets in-flight requests finish before cutting them (default 5 s). */
  readonly stopGraceMs?: number;
  /**
   * A second listener serving the same routing over HTTPS (TLS terminated here), e.g. on
   * 0.0.0.0:8448 for federation: the certificate chain and key, PEM.
   */
  readonly tls?: RouterTlsOptions;
}

export interface RouterTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /** Where to listen for HTTPS; port 0 picks a free port. */
  readonly listen: { host: string; port: number };
}

/** How many times a request a shard did not serve (its tenant had left) is sent again. */
const MAX_REPLAYS = 3;

/**
 * The router: finds the tenant a request is for by its host, and proxies the request to the
 * shard that hosts the tenant, according to the latest placement from its source. It keeps
 * routing with the last placement it has while the source is away. While a tenant moves, its
 * new requests wait for the placement that ends the move, then go to its new shard; a request
 * its old shard refused as no longer served there is sent again by the next placement.
 */
export class Router {
  private table: PlacementTable | undefined;
  private readonly firstTable: Promise<void>;
  private tableArrived!: () => void;
  private readonly server: Server;
  /** The HTTPS listener (`tls` option), same routing. */
  private readonly tlsServer: Server | undefined;
  private readonly agents = new ShardAgents();
  private readonly shardOutages: OutageLog;
  private readonly trustedProxies: TrustedProxies;
  /** Requests waiting for the next placement (held while their tenant moves, or to replay). */
  private readonly waiters = new PlacementWaiters();
  /** Fresh request IDs: this router's random prefix and a counter (no randomness per request). */
  private readonly requestIds = new RequestIds();

  private constructor(private readonly options: RouterOptions) {
    this.trustedProxies = TrustedProxies.parse(options.trustedProxies ?? []);
    this.shardOutages = new OutageLog(options.logger);
    this.firstTable = new Promise((resolve) => (this.tableArrived = resolve));
    const handler = (proto: 'http' | 'https') => (req: IncomingMessage, res: ServerResponse) =>
      void this.handle(req, res, proto).catch((error: unknown) => {
        options.logger.error({ err: error }, 'router failed on a request');
        sendRouterError(res, unknownError());
      });
    // Uploads may take long (media); headers must still come within headersTimeout.
    this.server = createServer({ requestTimeout: 0 }, handler('http'));
    this.tlsServer =
      options.tls === undefined
        ? undefined
        : createTlsServer(
            { requestTimeout: 0, cert: options.tls.cert, key: options.tls.key },
            handler('https'),
          );
  }

  /** Listens and starts following the placement. */
  static async start(options: RouterOptions): Promise<Router> {
    const router = new Router(options);
    router.server.listen(options.listen.port, options.listen.host);
    await once(router.server, 'listening');
    if (router.tlsServer !== undefined && options.tls !== undefined) {
      router.tlsServer.listen(options.tls.listen.port, options.tls.listen.host);
      try {
        await once(router.tlsServer, 'listening');
      } catch (error) {
        router.server.close();
        throw error;
      }
    }
    options.source.start((placement) => router.usePlacement(placement));
    return router;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : this.options.listen.port;
  }

  /** The port of the HTTPS listener (undefined without `tls`). */
  get tlsPort(): number | undefined {
    const address = this.tlsServer?.address();
    return typeof address === 'object' && address ? address.port : this.options.tls?.listen.port;
  }

  /** Requests waiting for a placement now: held while their tenant moves, or to replay. */
  get waitingForPlacement(): number {
    return this.waiters.size;
  }

  /** The placement version in use (undefined before the first). */
  get placementVersion(): number | undefined {
    return this.table?.version;
  }

  /**
   * Stops listening and following the placement; in-flight requests get `stopGraceMs` to finish
   * (their connections are then cut).
   */
  async stop(): Promise<void> {
    await this.options.source.stop();
    // Held requests get their 503 now rather than when the grace period cuts them.
    this.waiters.close();
    const servers = [this.server, ...(this.tlsServer ? [this.tlsServer] : [])];
    const closed = Promise.all(
      servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
    );
    for (const server of servers) server.closeIdleConnections();
    const cut = setTimeout(() => {
      for (const server of servers) server.closeAllConnections();
    }, this.options.stopGraceMs ?? 5_000);
    await closed;
    clearTimeout(cut);
    this.agents.destroy();
  }

  private usePlacement(placement: Placement): void {
    const table = new PlacementTable(placement, this.options.defaultTenant);
    for (const problem of table.problems) {
      this.options.logger.warn({ placement_version: table.version }, problem);
    }
    const origins = table.trafficOrigins();
    this.agents.keepOnly(origins);
    this.shardOutages.keepOnly(origins);
    const first = this.table === undefined;
    this.table = table;
    this.tableArrived();
    this.waiters.changed();
    this.options.logger.info(
      { placement_version: table.version, tenants: table.tenantCount, shards: origins.size },
      first ? 'placement loaded' : 'placement changed',
    );
  }

  private async handle(
    req: IncomingMessage,
    res: ServerResponse,
    proto: 'http' | 'https',
  ): Promise<void> {
    const started = performance.now();
    const peerAddress = plainAddress(req.socket.remoteAddress ?? '');
    const peerTrusted = this.trustedProxies.includes(peerAddress);
    const host = requestHost(req.headers, peerTrusted);
    const requestId = requestIdOf(req, peerTrusted, this.requestIds);
    const logFields: Record<string, unknown> = {
      req_id: requestId,
      method: req.method,
      path: pathWithoutQuery(req.url ?? ''),
      host: host.hostname,
    };
    const refuse = (error: MatrixError) => {
      req.resume();
      sendRouterError(res, error);
      this.logRequest(logFields, { status: error.status }, started, { ownAnswer: true });
    };

    const target = req.url ?? '';
    if (!target.startsWith('/')) return refuse(badRequestTarget());
    if (isInternalPath(target)) return refuse(internalPathRefused());

    let table = await this.currentTable();
    if (!table) return refuse(noPlacementYet());

    // The client going away ends any wait for a placement.
    const clientGone = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) clientGone.abort();
    };
    res.once('close', onClose);
    try {
      const body = new RequestBody(req);
      // All the waits of one request share one deadline, set when it first waits.
      let waitUntil: number | undefined;
      const waitForPlacementAfter = async (seen: PlacementTable): Promise<WaitOutcome> => {
        const waitStarted = performance.now();
        waitUntil ??= waitStarted + (this.options.moveHoldMs ?? 30_000);
        const outcome = await this.placementAfter(seen, waitUntil, clientGone.signal);
        const waitedBefore = (logFields.waited_ms as number | undefined) ?? 0;
        logFields.waited_ms = Math.round(waitedBefore + performance.now() - waitStarted);
        return outcome;
      };
      for (let replays = 0; ;) {
        const found = table.lookup(host.hostname);
        if (!found) return refuse(noHomeserverAt(host.hostname));
        const { route } = found;
        logFields.server_name = route.serverName;
        logFields.shard = route.shardId;
        if (route.moving) {
          // Held, its body unread, until a placement where the move is over.
          const waited = await waitForPlacementAfter(table);
          if (waited === 'gone') return this.logClientGone(logFields, started);
          if (waited !== 'changed') return refuse(moveNotOver(route.serverName));
          table = this.table as PlacementTable;
          continue;
        }
        if (!route.trafficUrl) return refuse(tenantUnplaced(route.serverName));

        const outcome = await proxyRequest(
          req,
          res,
          {
            url: route.trafficUrl,
            agent: this.agents.agentFor(route.trafficUrl.origin),
            serverName: route.serverName,
            headers: upstreamRequestHeaders(req.rawHeaders, {
              host: found.byDefault || host.header === undefined ? route.serverName : host.header,
              originalHost: host.header,
              peerAddress,
              peerTrusted,
              requestId,
              proto,
            }),
            body,
            mayReplay: replays < MAX_REPLAYS,
          },
          this.options.connectTimeoutMs ?? 5_000,
        );
        this.noteShardHealth(route.shardId, route.trafficUrl.origin, outcome);
        if (!outcome.notServed) return this.logRequest(logFields, outcome, started);

        // The shard no longer serves the tenant (it has just left): the placement that says
        // where it went is coming, if it is not here already.
        replays += 1;
        logFields.replays = replays;
        const waited = await waitForPlacementAfter(table);
        if (waited === 'gone') return this.logClientGone(logFields, started);
        if (waited !== 'changed') return refuse(moveNotOver(route.serverName));
        table = this.table as PlacementTable;
      }
    } finally {
      res.off('close', onClose);
    }
  }

  /** Waits until the table in use is newer than `seen` (at once if it is already). */
  private async placementAfter(
    seen: PlacementTable,
    deadline: number,
    clientGone: AbortSignal,
  ): Promise<WaitOutcome> {
    let outcome: WaitOutcome = 'changed';
    while (this.table === seen && outcome === 'changed') {
      outcome = await this.waiters.next(deadline, clientGone);
    }
    return outcome;
  }

  private logClientGone(fields: Record<string, unknown>, started: number): void {
    this.logRequest(fields, { status: 0, failure: 'client-gone' }, started);
  }

  /** The table, waiting a while for the first one when the router has just started. */
  private async currentTable(): Promise<PlacementTable | undefined> {
    if (this.table) return this.table;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.options.firstPlacementWaitMs ?? 10_000);
    });
    await Promise.race([this.firstTable, waited]);
    clearTimeout(timer);
    return this.table;
  }

  private noteShardHealth(shardId: string | null, origin: string, outcome: ProxyOutcome): void {
    const fields = { shard: shardId, traffic_url: origin };
    if (outcome.failure === 'shard-unreachable') {
      this.shardOutages.failed(
        origin,
        { ...fields, err: outcome.error?.message },
        'shard unreachable: its tenants get 503 until it answers again',
      );
    } else if (outcome.failure === undefined) {
      this.shardOutages.recovered(origin, fields, 'shard reachable again');
    }
  }

  /**
   * One line per request, never with the query string (it may hold an access token), with the
   * host and, once found, the tenant's server_name. At `info` when an operator should see it
   * without turning debug on: the router's own answers (unknown host, no placement, internal
   * path…), refusals (429) and failures (5xx, cut exchanges); otherwise at `debug` (the shard
   * logs every request it serves).
   */
  private logRequest(
    fields: Record<string, unknown>,
    outcome: Pick<ProxyOutcome, 'status' | 'failure'>,
    started: number,
    options: { ownAnswer?: boolean } = {},
  ): void {
    const notable =
      options.ownAnswer === true ||
      outcome.status === 429 ||
      outcome.status >= 500 ||
      (outcome.failure !== undefined && outcome.failure !== 'client-gone');
    this.options.logger[notable ? 'info' : 'debug'](
      {
        ...fields,
        status: outcome.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        ...(outcome.failure ? { failure: outcome.failure } : {}),
      },
      'request',
    );
  }
}

/** A trusted proxy's request ID is kept (one ID across the hops); otherwise a fresh one. */
function requestIdOf(req: IncomingMessage, peerTrusted: boolean, ids: RequestIds): string {
  const given = req.headers['x-request-id'];
  if (peerTrusted && typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given)) return given;
  return ids.next();
}

/** Request IDs unique across routers (random prefix) and within one (counter). */
class RequestIds {
  readonly #prefix = randomBytes(6).toString('hex');
  #count = 0;

  next(): string {
    this.#count += 1;
    return `${this.#prefix}-${this.#count.toString(36)}`;
  }
}
