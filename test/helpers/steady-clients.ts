import { createHmac } from 'node:crypto';
import {
  ClientEvent,
  EventType,
  Filter,
  MsgType,
  PendingEventOrdering,
  SyncState,
  createClient,
  type MatrixClient,
} from 'matrix-js-sdk';
import { logger as sdkGlobalLogger, type Logger } from 'matrix-js-sdk/lib/logger.js';
import { localhostFetch } from './localhost-fetch.js';

/**
 * Clients that keep sending and syncing in one room of one tenant while a test moves, kills or
 * upgrades what serves it (issue 5's proofs). Every HTTP request goes through one recording
 * fetch, so a failed request is never hidden by a client's own retries: the report lists each
 * one (method, path, status, errcode). Most clients are hand-written loops over fetch — a send
 * loop (`PUT /send` with its own txnId, retried with the SAME txnId after a failure, so that a
 * message whose answer was lost is not sent twice) and a /sync long-poll loop (retried with the
 * same `since`); one real matrix-js-sdk client sends with `sendEvent` (the SDK's own scheduler
 * retries a failed send with backoff, 2 s then 4 s then 8 s; once it gives up, `resendEvent`
 * sends it again with its txnId) and syncs with its own sync loop, to show a real client keeps
 * working.
 * `checkSteadyReport` then says what went wrong: a failure the test does not allow, a message
 * lost, duplicated or out of order for some syncing client.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface FailedRequest {
  /** Who sent it: `client-i`. */
  client: string;
  method: string;
  /** Without the query string. */
  path: string;
  /** 0 when no answer came (connection refused or reset). */
  status: number;
  errcode?: string;
  retryAfter?: string;
  /** The network error when no answer came. */
  error?: string;
  /** `Date.now()` when the answer (or the error) came. */
  at: number;
}

export interface SentMessage {
  body: string;
  eventId: string;
  /** Requests it took (1 unless a send failed and was retried). */
  attempts: number;
  /** From the first attempt to the acknowledgement, retries included. */
  ms: number;
}

export interface ReceivedMessage {
  body: string;
  eventId: string;
}

export interface SteadyReport {
  serverName: string;
  roomId: string;
  startedAt: number;
  stoppedAt: number;
  failures: FailedRequest[];
  /** Per sending client (`client-i`), its acknowledged messages in send order. */
  sent: Record<string, SentMessage[]>;
  /** Per sending client, the bodies whose send was never acknowledged (given up at stop). */
  unacknowledged: Record<string, string[]>;
  /**
   * Per syncing view, the room's m.room.message events as received, in order: `client-i` for
   * what a client's /sync responses carried, `client-i (timeline)` for the matrix-js-sdk
   * client's live timeline at stop.
   */
  received: Record<string, ReceivedMessage[]>;
  /** Per syncing view, how many /sync responses had a limited (gapped) timeline for the room. */
  gaps: Record<string, number>;
}

export interface SteadyClientsOptions {
  /** The tenant's server name (the users' domain). */
  serverName: string;
  /** Where clients reach the tenant: the router, e.g. `http://alpha.localhost:PORT`. */
  baseUrl: string;
  /** Default `localhostFetch`, which reaches `*.localhost` names through 127.0.0.1. */
  fetchFn?: typeof fetch;
  /** How users are registered: open registration, or the tenant's shared secret. */
  registration: { kind: 'open' } | { kind: 'shared-secret'; secret: string };
  /** Hand-written fetch clients (each sends and syncs); default 3. */
  fetchClients?: number;
  /** matrix-js-sdk clients (each sends and syncs); default 1. */
  sdkClients?: number;
  /** Pause between one client's sends (each send is awaited); default 50 ms. */
  sendPauseMs?: number;
  /** The `timeout` of the fetch clients' /sync long-polls; default 5 s. */
  syncTimeoutMs?: number;
  /** Prefix of the users' localparts, so that several sets can share a tenant; default `steady`. */
  userPrefix?: string;
}

export interface SteadyClients {
  readonly roomId: string;
  /** Resolves once every client has at least `n` acknowledged sends. */
  waitForSends(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves once every client has `more` acknowledged sends more than now. */
  waitForMoreSends(more?: number, timeoutMs?: number): Promise<void>;
  /**
   * Stops sending (a send in flight is finished, retried with its txnId for up to
   * `giveUpMs`), waits up to `catchUpMs` until every syncing client has received every
   * acknowledged message, then stops syncing. The report.
   */
  stop(options?: { giveUpMs?: number; catchUpMs?: number }): Promise<SteadyReport>;
  /**
   * The room's m.room.message events as stored, oldest first, read with /messages by client-0
   * (also after `stop`): to put beside the report's views as `received.history`.
   */
  history(): Promise<ReceivedMessage[]>;
}

/** The SDK clients' logger, quiet but for warnings and errors (a steady client logs a lot). */
const quietLogger: Logger = {
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (...msg) => console.warn(...msg),
  error: (...msg) => console.error(...msg),
  getChild: () => quietLogger,
};

const DEFAULT_RETRY_MS = 250;
/** The fetch clients' sync filter: a timeline long enough that no sync here is limited. */
const SYNC_FILTER = JSON.stringify({
  room: { timeline: { limit: 1000 }, state: { lazy_load_members: true } },
  presence: { not_types: ['*'] },
});

/** The suffix of the name of an SDK client's live timeline among the received views. */
const TIMELINE_VIEW = ' (timeline)';

/** One name for one client's messages: `client-i #n`. */
const bodyOf = (client: string, n: number) => `${client} #${n}`;
const senderOf = (body: string): string | undefined => /^(client-\d+) #\d+$/.exec(body)?.[1];

export async function startSteadyClients(options: SteadyClientsOptions): Promise<SteadyClients> {
  const baseFetch = options.fetchFn ?? localhostFetch;
  const fetchClients = options.fetchClients ?? 3;
  const sdkClients = options.sdkClients ?? 1;
  const sendPauseMs = options.sendPauseMs ?? 50;
  const syncTimeoutMs = options.syncTimeoutMs ?? 5_000;
  const prefix = options.userPrefix ?? 'steady';
  const startedAt = Date.now();

  const failures: FailedRequest[] = [];
  const sent: Record<string, SentMessage[]> = {};
  const unacknowledged: Record<string, string[]> = {};
  const received: Record<string, ReceivedMessage[]> = {};
  const gaps: Record<string, number> = {};
  /** Aborts the sync long-polls at stop (not a failure). */
  const stopSyncing = new AbortController();
  let sending = true;
  /** Once sending stops, a send still failing is given up at this time. */
  let giveUpAt = Infinity;

  const recordingFetch =
    (client: string): typeof fetch =>
    async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
      try {
        const response = await baseFetch(input, init);
        if (response.status >= 400) {
          const text = await response.clone().text();
          let errcode: string | undefined;
          try {
            errcode = (JSON.parse(text) as Json)?.errcode;
          } catch {
            // not JSON
          }
          failures.push({
            client,
            method,
            path: url.pathname,
            status: response.status,
            ...(errcode === undefined ? {} : { errcode }),
            ...(response.headers.has('retry-after')
              ? { retryAfter: response.headers.get('retry-after') as string }
              : {}),
            at: Date.now(),
          });
        }
        return response;
      } catch (error) {
        const aborted = init?.signal?.aborted === true;
        if (!aborted) {
          const cause = (error as { cause?: unknown }).cause;
          failures.push({
            client,
            method,
            path: url.pathname,
            status: 0,
            error: String(cause ?? error),
            at: Date.now(),
          });
        }
        throw error;
      }
    };

  /** A JSON call for setup; throws unless 200. */
  const call = async (
    fetchFn: typeof fetch,
    method: string,
    path: string,
    token?: string,
    body?: unknown,
  ): Promise<Json> => {
    const response = await fetchFn(`${options.baseUrl}${path}`, {
      method,
      headers: {
        ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as Json;
  };

  const register = async (
    localpart: string,
  ): Promise<{ userId: string; deviceId: string; token: string }> => {
    const password = `${localpart} steady password`;
    let body: Json;
    if (options.registration.kind === 'open') {
      body = await call(baseFetch, 'POST', '/_matrix/client/v3/register', undefined, {
        username: localpart,
        password,
        auth: { type: 'm.login.dummy' },
      });
    } else {
      const { nonce } = await call(baseFetch, 'GET', '/_synapse/admin/v1/register');
      const mac = createHmac('sha1', options.registration.secret)
        .update(`${nonce}\0${localpart}\0${password}\0notadmin`)
        .digest('hex');
      body = await call(baseFetch, 'POST', '/_synapse/admin/v1/register', undefined, {
        nonce,
        username: localpart,
        password,
        mac,
        admin: false,
      });
    }
    return { userId: body.user_id, deviceId: body.device_id, token: body.access_token };
  };

  // Users, the room (client-0 creates it, public), everyone joined before anyone syncs.
  const total = fetchClients + sdkClients;
  const users = await Promise.all(
    Array.from({ length: total }, (_, i) => register(`${prefix}-${i}`)),
  );
  const { room_id: roomId } = (await call(
    baseFetch,
    'POST',
    '/_matrix/client/v3/createRoom',
    users[0]!.token,
    { preset: 'public_chat', name: 'Steady' },
  )) as { room_id: string };
  const room = encodeURIComponent(roomId);
  for (const user of users.slice(1)) {
    await call(baseFetch, 'POST', `/_matrix/client/v3/join/${room}`, user.token, {});
  }

  /** Waits `ms`, or the Retry-After of a failed answer. */
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const retryDelay = (retryAfter: string | null | undefined): number => {
    const seconds = Number(retryAfter);
    return retryAfter && Number.isFinite(seconds) ? seconds * 1000 : DEFAULT_RETRY_MS;
  };

  /** Appends a /sync response's messages of the room to `view`'s list. */
  const takeSync = (view: string, sync: Json) => {
    const timeline = sync?.rooms?.join?.[roomId]?.timeline;
    if (timeline === undefined) return;
    if (timeline.limited === true) gaps[view] = (gaps[view] ?? 0) + 1;
    for (const event of timeline.events as Json[]) {
      if (event.type === EventType.RoomMessage && typeof event.content?.body === 'string') {
        (received[view] ??= []).push({ body: event.content.body, eventId: event.event_id });
      }
    }
  };

  // --- hand-written clients -------------------------------------------------------------
  const fetchSyncLoop = async (name: string, token: string, fetchFn: typeof fetch) => {
    received[name] = [];
    gaps[name] = 0;
    let since: string | undefined;
    while (!stopSyncing.signal.aborted) {
      const query = new URLSearchParams({ filter: SYNC_FILTER, timeout: String(syncTimeoutMs) });
      if (since !== undefined) query.set('since', since);
      else query.set('timeout', '0');
      let response: Response;
      try {
        response = await fetchFn(`${options.baseUrl}/_matrix/client/v3/sync?${query}`, {
          headers: { Authorization: `Bearer ${token}` },
          signal: stopSyncing.signal,
        });
      } catch {
        if (stopSyncing.signal.aborted) return;
        await pause(DEFAULT_RETRY_MS);
        continue;
      }
      if (response.status !== 200) {
        await pause(retryDelay(response.headers.get('retry-after')));
        continue;
      }
      const body = (await response.json()) as Json;
      takeSync(name, body);
      since = body.next_batch;
    }
  };

  const fetchSendLoop = async (name: string, token: string, fetchFn: typeof fetch) => {
    sent[name] = [];
    unacknowledged[name] = [];
    for (let n = 1; sending; n += 1) {
      const body = bodyOf(name, n);
      const path = `/_matrix/client/v3/rooms/${room}/send/m.room.message/${name}-${n}`;
      const started = Date.now();
      let attempts = 0;
      let eventId: string | undefined;
      while (eventId === undefined) {
        if (!sending && Date.now() > giveUpAt) break;
        attempts += 1;
        try {
          const response = await fetchFn(`${options.baseUrl}${path}`, {
            method: 'PUT',
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
            body: JSON.stringify({ msgtype: MsgType.Text, body }),
          });
          if (response.status === 200) {
            eventId = ((await response.json()) as Json).event_id as string;
          } else {
            await response.arrayBuffer();
            await pause(retryDelay(response.headers.get('retry-after')));
          }
        } catch {
          await pause(DEFAULT_RETRY_MS);
        }
      }
      if (eventId === undefined) {
        unacknowledged[name]!.push(body);
        break;
      }
      sent[name]!.push({ body, eventId, attempts, ms: Date.now() - started });
      if (sendPauseMs > 0) await pause(sendPauseMs);
    }
  };

  // --- matrix-js-sdk clients -------------------------------------------------------------
  const sdkClientsStarted: MatrixClient[] = [];
  const startSdkClient = async (
    name: string,
    user: { userId: string; deviceId: string; token: string },
  ) => {
    received[name] = [];
    gaps[name] = 0;
    const recording = recordingFetch(name);
    // What the SDK's /sync responses carried, read off the wire as the SDK reads them.
    const fetchFn: typeof fetch = async (input, init) => {
      const response = await recording(input, init);
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (response.status === 200 && url.pathname.endsWith('/sync')) {
        takeSync(name, await response.clone().json());
      }
      return response;
    };
    // Rooms and events log to the SDK's global logger whatever the client's (a loglevel
    // logger underneath, though its type does not say so).
    (sdkGlobalLogger as unknown as { setLevel(level: 'warn'): void }).setLevel('warn');
    const client = createClient({
      logger: quietLogger,
      baseUrl: options.baseUrl,
      fetchFn,
      userId: user.userId,
      deviceId: user.deviceId,
      accessToken: user.token,
    });
    const filter = new Filter(user.userId);
    filter.setTimelineLimit(1000);
    const prepared = new Promise<void>((resolve) => {
      client.on(ClientEvent.Sync, (state: SyncState) => {
        if (state === SyncState.Prepared) resolve();
      });
    });
    await client.startClient({
      filter,
      initialSyncLimit: 1000,
      // Own sends stay out of the timeline until the server's echo (and a failed one can be
      // found among the pending events to resend).
      pendingEventOrdering: PendingEventOrdering.Detached,
    });
    await prepared;
    sdkClientsStarted.push(client);
    return client;
  };

  const sdkSendLoop = async (name: string, client: MatrixClient) => {
    sent[name] = [];
    unacknowledged[name] = [];
    for (let n = 1; sending; n += 1) {
      const body = bodyOf(name, n);
      const txnId = `${name}-${n}`;
      const started = Date.now();
      let attempts = 1;
      let eventId: string | undefined;
      let sending$ = client.sendEvent(
        roomId,
        EventType.RoomMessage,
        { msgtype: MsgType.Text, body },
        txnId,
      );
      while (eventId === undefined) {
        try {
          eventId = (await sending$).event_id;
        } catch (error) {
          const retryAfter = (error as { httpHeaders?: Headers }).httpHeaders?.get('retry-after');
          await pause(retryDelay(retryAfter));
          if (!sending && Date.now() > giveUpAt) break;
          const sdkRoom = client.getRoom(roomId);
          const pending = sdkRoom?.getPendingEvents().find((event) => event.getTxnId() === txnId);
          if (sdkRoom === null || sdkRoom === undefined || pending === undefined) {
            throw new Error(`${name}: the failed send ${txnId} is not pending any more`, {
              cause: error,
            });
          }
          attempts += 1;
          sending$ = client.resendEvent(pending, sdkRoom);
        }
      }
      if (eventId === undefined) {
        unacknowledged[name]!.push(body);
        break;
      }
      sent[name]!.push({ body, eventId, attempts, ms: Date.now() - started });
      if (sendPauseMs > 0) await pause(sendPauseMs);
    }
  };

  // Everyone syncs first (so that no message is sent before a client is listening), then sends.
  const names = users.map((_, i) => `client-${i}`);
  const syncLoops: Promise<void>[] = [];
  const sdk = new Map<string, MatrixClient>();
  for (let i = 0; i < fetchClients; i += 1) {
    syncLoops.push(fetchSyncLoop(names[i]!, users[i]!.token, recordingFetch(names[i]!)));
  }
  for (let i = fetchClients; i < total; i += 1) {
    sdk.set(names[i]!, await startSdkClient(names[i]!, users[i]!));
  }
  const sendLoops: Promise<void>[] = [];
  for (let i = 0; i < fetchClients; i += 1) {
    sendLoops.push(fetchSendLoop(names[i]!, users[i]!.token, recordingFetch(names[i]!)));
  }
  for (const [name, client] of sdk) sendLoops.push(sdkSendLoop(name, client));

  const waitForCounts = async (want: (name: string) => number, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (names.some((name) => (sent[name]?.length ?? 0) < want(name))) {
      if (Date.now() > deadline) {
        const counts = names
          .map((name) => `${name}: ${sent[name]?.length ?? 0} of ${want(name)}`)
          .join(', ');
        throw new Error(`not every client sent its messages in ${timeoutMs} ms (${counts})`);
      }
      await pause(50);
    }
  };

  return {
    roomId,
    waitForSends: (n, timeoutMs) => waitForCounts(() => n, timeoutMs),
    waitForMoreSends(more = 1, timeoutMs) {
      const now = new Map(names.map((name) => [name, sent[name]?.length ?? 0]));
      return waitForCounts((name) => (now.get(name) ?? 0) + more, timeoutMs);
    },
    async history() {
      const events: Json[] = [];
      let from: string | undefined;
      for (;;) {
        const query = new URLSearchParams({ dir: 'b', limit: '1000' });
        if (from !== undefined) query.set('from', from);
        const page = await call(
          baseFetch,
          'GET',
          `/_matrix/client/v3/rooms/${room}/messages?${query}`,
          users[0]!.token,
        );
        events.push(...(page.chunk as Json[]));
        if (page.end === undefined || page.chunk.length === 0) break;
        from = page.end;
      }
      return events
        .filter((event) => event.type === EventType.RoomMessage)
        .map((event) => ({ body: String(event.content.body), eventId: event.event_id as string }))
        .reverse();
    },
    async stop({ giveUpMs = 30_000, catchUpMs = 20_000 } = {}) {
      sending = false;
      giveUpAt = Date.now() + giveUpMs;
      await Promise.all(sendLoops);

      const acknowledged = Object.values(sent).flatMap((list) => list.map((m) => m.eventId));
      const caughtUp = () =>
        Object.values(received).every((list) => {
          const ids = new Set(list.map((m) => m.eventId));
          return acknowledged.every((id) => ids.has(id));
        });
      const deadline = Date.now() + catchUpMs;
      while (!caughtUp() && Date.now() < deadline) await pause(50);

      stopSyncing.abort();
      for (const client of sdkClientsStarted) client.stopClient();
      await Promise.all(syncLoops);
      for (const [name, client] of sdk) {
        received[`${name}${TIMELINE_VIEW}`] = (
          client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? []
        )
          .filter((event) => event.getType() === EventType.RoomMessage)
          .map((event) => ({
            body: String(event.getContent().body),
            eventId: event.getId() as string,
          }));
      }
      return {
        serverName: options.serverName,
        roomId,
        startedAt,
        stoppedAt: Date.now(),
        failures,
        sent,
        unacknowledged,
        received,
        gaps,
      };
    },
  };
}

export interface CheckOptions {
  /** Failures the test allows (e.g. 503 during a kill); none by default. */
  allowFailure?: (failure: FailedRequest) => boolean;
  /** Each sending client must have this many acknowledged sends; default 1. */
  minSentPerClient?: number;
}

/**
 * What is wrong with a report, one line per problem (empty: all is well): failed requests not
 * allowed, sends never acknowledged, limited syncs, and per syncing view and sender the
 * received messages differing from the acknowledged ones (lost, duplicated, out of order, or
 * with another event ID than the send was answered with). All /sync streams must also agree on
 * the room's order (an SDK timeline only on each sender's: the SDK puts its own echoes first).
 */
export function checkSteadyReport(report: SteadyReport, options: CheckOptions = {}): string[] {
  const allow = options.allowFailure ?? (() => false);
  const minSent = options.minSentPerClient ?? 1;
  const problems: string[] = [];
  // Failures alike (method, kind of path, status, errcode) make one line.
  const alike = new Map<string, FailedRequest[]>();
  for (const failure of report.failures) {
    if (allow(failure)) continue;
    const key =
      `${failure.method} ${pathPattern(failure.path)} → ${failure.status}` +
      `${failure.errcode ? ` ${failure.errcode}` : ''}${failure.error ? ` (${failure.error})` : ''}`;
    alike.set(key, [...(alike.get(key) ?? []), failure]);
  }
  for (const [key, failures] of alike) {
    const clients = [...new Set(failures.map((f) => f.client))].sort().join(', ');
    const times = failures.map((f) => f.at - report.startedAt);
    const when =
      times.length === 1
        ? `at +${times[0]} ms`
        : `from +${Math.min(...times)} to +${Math.max(...times)} ms`;
    problems.push(`failed requests: ${failures.length} × ${key} (${clients}; ${when})`);
  }
  for (const [client, bodies] of Object.entries(report.unacknowledged)) {
    if (bodies.length > 0) problems.push(`${client}: never acknowledged: ${bodies.join(', ')}`);
  }
  for (const [client, messages] of Object.entries(report.sent)) {
    if (messages.length < minSent) {
      problems.push(`${client}: only ${messages.length} acknowledged sends (want ≥ ${minSent})`);
    }
  }
  for (const [view, count] of Object.entries(report.gaps)) {
    if (count > 0) problems.push(`${view}: ${count} limited /sync timelines`);
  }

  let reference: [string, ReceivedMessage[]] | undefined;
  for (const [view, messages] of Object.entries(report.received)) {
    for (const [sender, acknowledged] of Object.entries(report.sent)) {
      const got = messages.filter((m) => senderOf(m.body) === sender);
      const want = acknowledged.map((m) => ({ body: m.body, eventId: m.eventId }));
      // A send given up at stop may still have landed: its message may follow the others.
      const late = report.unacknowledged[sender] ?? [];
      const extra = got.slice(want.length);
      const lateOk = extra.length <= late.length && extra.every((m, i) => m.body === late[i]);
      const same = want.every((m, i) => got[i]?.body === m.body && got[i]?.eventId === m.eventId);
      if (!same || !lateOk) {
        problems.push(`${view} ← ${sender}: ${diff(want, got)}`);
      }
    }
    // The SDK applies its own echoes ahead of other events of the same /sync response: its
    // timeline keeps each sender's order, not the room's.
    if (view.endsWith(TIMELINE_VIEW)) continue;
    const ours = messages.filter((m) => senderOf(m.body) !== undefined);
    if (reference === undefined) reference = [view, ours];
    else {
      const [referenceView, expected] = reference;
      const at = ours.findIndex((m, i) => m.eventId !== expected[i]?.eventId);
      if (at !== -1 || ours.length !== expected.length) {
        const from = Math.max(0, (at === -1 ? expected.length : at) - 2);
        const around = (list: ReceivedMessage[]) =>
          list
            .slice(from, from + 5)
            .map((m) => m.body)
            .join(', ');
        problems.push(
          `${view} saw the room in another order than ${referenceView}: ` +
            `[${around(ours)}] instead of [${around(expected)}] from position ${from}`,
        );
      }
    }
  }
  return problems;
}

/** A request path with its room ID and transaction ID left out. */
function pathPattern(path: string): string {
  return path
    .replace(/\/rooms\/[^/]+/, '/rooms/{roomId}')
    .replace(/\/send\/([^/]+)\/[^/]+$/, '/send/$1/{txnId}');
}

/** A short account of how `got` differs from `want`. */
function diff(want: ReceivedMessage[], got: ReceivedMessage[]): string {
  const wantBodies = new Set(want.map((m) => m.body));
  const counts = new Map<string, number>();
  for (const m of got) counts.set(m.body, (counts.get(m.body) ?? 0) + 1);
  const missing = want.filter((m) => !counts.has(m.body)).map((m) => m.body);
  const duplicated = [...counts].filter(([, n]) => n > 1).map(([body, n]) => `${body} ×${n}`);
  const unexpected = got.filter((m) => !wantBodies.has(m.body)).map((m) => m.body);
  const wrongId = want
    .filter((m) => got.some((g) => g.body === m.body && g.eventId !== m.eventId))
    .map((m) => m.body);
  const parts = [
    `sent ${want.length}, received ${got.length}`,
    missing.length > 0 ? `missing ${missing.slice(0, 10).join(', ')}` : '',
    duplicated.length > 0 ? `duplicated ${duplicated.slice(0, 10).join(', ')}` : '',
    unexpected.length > 0 ? `unacknowledged ${unexpected.slice(0, 10).join(', ')}` : '',
    wrongId.length > 0 ? `other event ID for ${wrongId.slice(0, 10).join(', ')}` : '',
  ];
  if (parts.slice(1).every((part) => part === '')) parts.push('out of order');
  return parts.filter((part) => part !== '').join('; ');
}

/** A one-line summary of a report, for logs and benchmarks. */
export function summarizeSteadyReport(report: SteadyReport): string {
  const sends = Object.values(report.sent).flat();
  const retried = sends.filter((m) => m.attempts > 1).length;
  const slowest = Math.max(0, ...sends.map((m) => m.ms));
  return (
    `${report.serverName}: ${sends.length} messages from ${Object.keys(report.sent).length} clients ` +
    `in ${((report.stoppedAt - report.startedAt) / 1000).toFixed(1)} s, ${retried} retried, ` +
    `slowest send ${slowest} ms, ${report.failures.length} failed requests`
  );
}
