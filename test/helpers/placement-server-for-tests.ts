import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';

/**
 * Stands in for the controller's placement API (`GET /_marina/controller/v1/placement?since=V&
 * timeout=MS`, bearer token; see docs/controller.md) in router tests, so the router can be tested
 * against a real HTTP long-poll without starting the controller and its shards. Same shapes: it
 * answers at once without `since`, otherwise when the version moves past `since` or at the
 * timeout.
 */

export interface PlacedTenantForTests {
  server_name: string;
  hostnames?: string[];
  shard_id: string;
  traffic_url: string;
  moving?: boolean;
}

export class PlacementServerForTests {
  private version = 1;
  private tenants: PlacedTenantForTests[] = [];
  private readonly waiting = new Set<() => void>();
  /** While set, every placement request gets this status (a controller that is broken). */
  private failingWith: number | undefined;
  /** Placement requests answered or pending, for tests that count polls. */
  requests = 0;
  /** The query of each placement request (`since`, `timeout`, `router_id`), in order. */
  readonly queries: URLSearchParams[] = [];

  private constructor(
    private readonly server: Server,
    readonly token: string,
  ) {}

  /** Listens on 127.0.0.1 (`port` 0: any free port; the same port again after a stop). */
  static async start(
    token: string,
    tenants: PlacedTenantForTests[] = [],
    options: { port?: number; version?: number } = {},
  ): Promise<PlacementServerForTests> {
    const server = createServer();
    const self = new PlacementServerForTests(server, token);
    server.on('request', (req, res) => void self.handle(req.url ?? '', req.headers, res));
    self.tenants = tenants;
    self.version = options.version ?? 1;
    server.listen(options.port ?? 0, '127.0.0.1');
    await once(server, 'listening');
    return self;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get currentVersion(): number {
    return this.version;
  }

  /** Replaces the placement (a new version) and answers the pending long-polls. */
  publish(tenants: PlacedTenantForTests[]): void {
    this.tenants = tenants;
    this.version += 1;
    for (const wake of this.waiting) wake();
    this.waiting.clear();
  }

  /** Answers every request (pending long-polls too) with `status` until `recover()`. */
  failWith(status: number): void {
    this.failingWith = status;
    for (const wake of this.waiting) wake();
    this.waiting.clear();
  }

  recover(): void {
    this.failingWith = undefined;
  }

  /** Stops at once, cutting pending long-polls (a controller that dies). */
  async stop(): Promise<void> {
    const closed = once(this.server, 'close');
    this.server.close();
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(
    target: string,
    headers: Record<string, string | string[] | undefined>,
    res: ServerResponse,
  ): Promise<void> {
    const url = new URL(target, 'http://placement');
    if (url.pathname !== '/_marina/controller/v1/placement') return this.send(res, 404, {});
    if (headers.authorization !== `Bearer ${this.token}`) {
      return this.send(res, 401, { errcode: 'M_UNKNOWN_TOKEN', error: 'wrong admin token' });
    }
    this.requests += 1;
    this.queries.push(url.searchParams);
    if (this.failingWith !== undefined) {
      return this.send(res, this.failingWith, { errcode: 'M_UNKNOWN', error: 'broken' });
    }
    const since = url.searchParams.get('since');
    const timeout = Number(url.searchParams.get('timeout') ?? 0);
    if (since !== null && Number(since) === this.version && timeout > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeout);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiting.add(done);
        res.once('close', done);
      });
    }
    if (res.destroyed) return;
    if (this.failingWith !== undefined) {
      return this.send(res, this.failingWith, { errcode: 'M_UNKNOWN', error: 'broken' });
    }
    this.send(res, 200, { version: this.version, tenants: this.tenants });
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}
