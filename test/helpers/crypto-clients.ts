/**
 * matrix-js-sdk clients with the SDK's bundled Rust crypto (matrix-sdk-crypto-wasm), kept in
 * memory (no IndexedDB), against a test server: what the end-to-end encryption proofs share.
 */
import { vi } from 'vitest';
import {
  ClientEvent,
  EventType,
  SyncState,
  createClient,
  type ICreateClientOpts,
  type MatrixClient,
  type Room,
} from 'matrix-js-sdk';
import type { Logger } from 'matrix-js-sdk/lib/logger.js';
import type { ClientCredentials } from './sync-scenario.js';

/** The SDK's logger, quiet but for warnings and errors. */
export const quietLogger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (...msg) => console.warn(...msg),
  error: (...msg) => console.error(...msg),
  getChild: () => quietLogger,
};

/**
 * The crypto WASM module traces at debug level to the console (initRustCrypto turns it on):
 * silence the console but for warnings and errors. Undo with `vi.restoreAllMocks()`.
 */
export function silenceCryptoConsole(): void {
  for (const level of ['log', 'debug', 'info', 'trace'] as const) {
    vi.spyOn(console, level).mockImplementation(() => {});
  }
}

/** Polls `check` (sync or async) every 20 ms until it holds, for up to `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The decrypted bodies of the room's messages in the client's live timeline. */
export function plaintexts(room: Room | null): string[] {
  return (room?.getLiveTimeline().getEvents() ?? [])
    .filter((event) => event.getType() === EventType.RoomMessage)
    .map((event) => String(event.getContent().body));
}

/** Starts crypto clients against one server and stops them all at the end. */
export class CryptoClients {
  private readonly clients: MatrixClient[] = [];

  /**
   * `fetchFn` is how the clients reach `baseUrl` (e.g. `localhostFetch` for a tenant of
   * `marina up` at `http://<name>.localhost:PORT`); a client's own `fetchFn` option overrides it.
   */
  constructor(
    private readonly baseUrl: string,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  /**
   * A client of `user` with Rust crypto in memory, started and past its first sync. `options`
   * adds to the client's options (e.g. `cryptoCallbacks`, a recording `fetchFn`).
   */
  async start(
    user: ClientCredentials,
    options: Partial<ICreateClientOpts> = {},
  ): Promise<MatrixClient> {
    const client = createClient({
      baseUrl: this.baseUrl,
      fetchFn: this.fetchFn,
      userId: user.userId,
      deviceId: user.deviceId,
      accessToken: user.accessToken,
      logger: quietLogger,
      ...options,
    });
    this.clients.push(client);
    await client.initRustCrypto({ useIndexedDB: false });
    const prepared = new Promise<void>((resolve) => {
      client.on(ClientEvent.Sync, (state: SyncState) => {
        if (state === SyncState.Prepared) resolve();
      });
    });
    await client.startClient({ initialSyncLimit: 20 });
    await prepared;
    return client;
  }

  stopAll(): void {
    for (const client of this.clients) client.stopClient();
  }
}
