/**
 * A stand-in for another homeserver in storage tests of inbound federation: it signs events of
 * its users into a room that a tenant under test holds (with its own key), remembers them, and
 * answers the federation reads a receiving server makes to fill gaps (`/event`,
 * `/get_missing_events`, `/state_ids`, `/state`, `/event_auth`) over real HTTP, from what it was
 * told. Requests are not authenticated: it is a fixture, not a server.
 */

import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JsonObject } from '../../src/core/canonical-json.js';
import { authEventKeysFor } from '../../src/protocol/auth/auth-events-selection.js';
import type { RoomEvent, StateMap } from '../../src/protocol/room-event.js';
import type { RoomVersion } from '../../src/protocol/room-versions.js';
import { generateSigningKey } from '../../src/protocol/signing-key.js';
import type { SigningKey } from '../../src/protocol/signing-key.js';
import type { RoomGraph } from '../../src/services/room-graph/room-graph.js';
import { buildEvent } from '../../src/services/rooms/event-builder.js';
import type { EventDraft } from '../../src/services/rooms/event-builder.js';
import { upsertRemoteKeys } from '../../src/storage/federation/remote-server-keys.js';
import type { TenantDatabase } from '../../src/storage/tenant-database.js';

export class RemoteHomeserver {
  readonly signingKey: SigningKey = generateSigningKey();
  /** Every event it built or was told about, by ID. */
  readonly events = new Map<string, RoomEvent>();
  /** The state before events, for `/state_ids` (set by the test). */
  readonly statesBefore = new Map<string, StateMap>();
  /** Whether `/get_missing_events` answers (else 500). */
  answerMissingEvents = true;
  /** The requests received, as `METHOD path`. */
  readonly requests: string[] = [];
  #server: Server | undefined;
  #ts = 1_800_000_000_000;

  constructor(readonly serverName: string) {}

  /** Caches this server's key in the tenant's database, as if fetched. */
  async trustedBy(db: TenantDatabase): Promise<void> {
    const { keyId, publicKey } = this.signingKey;
    await db.transact((trx) =>
      upsertRemoteKeys(trx, [
        {
          serverName: this.serverName,
          keyId,
          publicKey,
          validUntilTs: 9_000_000_000_000,
          expiredTs: null,
          fetchedTs: 0,
          keyResponse: '{}',
        },
      ]),
    );
  }

  /**
   * Builds and signs an event of one of its users after `prevEvents`, with auth events picked
   * from `state` (by the tenant's own selection, as any server would pick them).
   */
  async build(
    target: { graph: RoomGraph; version: RoomVersion; roomId: string },
    draft: EventDraft,
    prevEvents: readonly RoomEvent[],
    state: StateMap,
  ): Promise<RoomEvent> {
    // Auth events it has itself (the tenant may not know them yet), else the tenant's.
    const keys = authEventKeysFor({ ...draft, stateKey: draft.stateKey }, target.version);
    const ids = keys.map((key) => state.get(key)).filter((id) => id !== undefined);
    const known = await target.graph.getEvents(ids);
    const authEvents = ids
      .map((id) => this.events.get(id) ?? known.get(id))
      .filter((event) => event !== undefined);
    const event = buildEvent(draft, {
      version: target.version,
      roomId: target.roomId,
      prevEvents,
      authEvents,
      originServerTs: (this.#ts += 1000),
      serverName: this.serverName,
      signingKey: this.signingKey,
    });
    this.events.set(event.eventId, event);
    return event;
  }

  remember(events: Iterable<RoomEvent>): void {
    for (const event of events) this.events.set(event.eventId, event);
  }

  /** Starts answering over HTTP; returns `host:port`. */
  async listen(): Promise<string> {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://fixture');
        this.requests.push(`${req.method} ${url.pathname}`);
        const answer = this.#answer(url, body === '' ? {} : (JSON.parse(body) as JsonObject));
        res.writeHead(answer === undefined ? 404 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer ?? { errcode: 'M_NOT_FOUND', error: 'not here' }));
      });
    });
    this.#server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const server = this.#server;
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  }

  #answer(url: URL, body: JsonObject): JsonObject | undefined {
    const [, , , , endpoint, ...rest] = url.pathname.split('/');
    const arg = decodeURIComponent(rest.join('/'));
    const pdusOf = (ids: Iterable<string>) =>
      [...ids].flatMap((id) => {
        const event = this.events.get(id);
        return event === undefined ? [] : [event.pdu];
      });
    switch (endpoint) {
      case 'event': {
        const event = this.events.get(arg);
        if (event === undefined) return undefined;
        return { origin: this.serverName, origin_server_ts: 0, pdus: [event.pdu] };
      }
      case 'get_missing_events': {
        if (!this.answerMissingEvents) return undefined;
        const earliest = new Set(body.earliest_events as string[]);
        const found: RoomEvent[] = [];
        let frontier = (body.latest_events as string[]).flatMap(
          (id) => this.events.get(id)?.prevEventIds ?? [],
        );
        while (frontier.length > 0) {
          const next: string[] = [];
          for (const id of frontier) {
            const event = this.events.get(id);
            if (event === undefined || earliest.has(id)) continue;
            found.push(event);
            next.push(...event.prevEventIds);
          }
          frontier = next;
        }
        return { events: found.map((event) => event.pdu) };
      }
      case 'state_ids':
      case 'state': {
        const eventId = url.searchParams.get('event_id') ?? '';
        const state = this.statesBefore.get(eventId);
        if (state === undefined) return undefined;
        const chain = new Set<string>();
        const walk = (id: string) => {
          for (const authId of this.events.get(id)?.authEventIds ?? []) {
            if (!chain.has(authId)) {
              chain.add(authId);
              walk(authId);
            }
          }
        };
        for (const id of state.values()) walk(id);
        return endpoint === 'state_ids'
          ? { pdu_ids: [...state.values()], auth_chain_ids: [...chain] }
          : { pdus: pdusOf(state.values()), auth_chain: pdusOf(chain) };
      }
      default:
        return undefined;
    }
  }
}
