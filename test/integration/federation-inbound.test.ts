import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/core/canonical-json.js';
import type { RoomEvent } from '../../src/protocol/room-event.js';
import type { FederationRequest } from '../../src/services/federation/federation-contracts.js';
import { FederationRequestError } from '../../src/services/federation/federation-contracts.js';
import { buildEvent } from '../../src/services/rooms/event-builder.js';
import type { EventDraft } from '../../src/services/rooms/event-builder.js';
import type { AccountServer } from '../helpers/account-server.js';
import { startFederationPair } from '../helpers/federation-pair.js';

/**
 * Inbound federation between two real tenants over HTTP, every request signed by beta and
 * checked by alpha: `PUT /send` (and its retry), then the reads beta makes of alpha's room, the
 * spec's errors for an unknown room and an ACL-denied server.
 */
describe('inbound federation endpoints', () => {
  let alpha: AccountServer;
  let beta: AccountServer;
  let stop: () => Promise<void>;
  let roomId: string;
  let alice: string;
  const bob = '@bob:beta.test';

  beforeAll(async () => {
    ({ alpha, beta, stop } = await startFederationPair());
    const services = alpha.context.services;
    alice = (
      await services.registration.createAccount({
        localpart: 'alice',
        isAdmin: false,
        isGuest: false,
      })
    ).userId;
    roomId = await services.roomCreation.create(alice, {
      preset: 'public_chat',
      room_alias_name: 'lobby',
    });
  });
  afterAll(async () => stop?.());

  /** A request from beta to alpha; resolves to `{status, body}` whatever the status. */
  async function fromBeta(
    request: FederationRequest,
  ): Promise<{ status: number; body: JsonObject }> {
    try {
      const body = await beta.context.services.federation.client.request('alpha.test', request);
      return { status: 200, body };
    } catch (error) {
      if (!(error instanceof FederationRequestError)) throw error;
      return { status: error.status, body: (error.body ?? {}) as JsonObject };
    }
  }

  /** An event of a beta user at the end of alpha's room, signed by beta. */
  async function betaEvent(draft: EventDraft): Promise<RoomEvent> {
    const { roomGraph, roomEvents } = alpha.context.services;
    const version = await roomEvents.requireRoomVersion(roomId);
    const prevIds = await roomGraph.forwardExtremities(roomId);
    const prevEvents = [...(await roomGraph.getEvents(prevIds)).values()];
    const state = await roomGraph.computeStateBefore(roomId, prevIds);
    return buildEvent(draft, {
      version,
      roomId,
      prevEvents,
      authEvents: await roomEvents.authEventsFor(draft, version, state),
      originServerTs: Date.now(),
      serverName: 'beta.test',
      signingKey: beta.context.services.serverKeys.signingKey,
    });
  }

  const path = (template: string, ...args: string[]) =>
    args.reduce((result, arg) => result.replace('%s', encodeURIComponent(arg)), template);

  it('answers /version without authentication', async () => {
    const response = await alpha.call('GET', '/_matrix/federation/v1/version');
    expect(response.status).toBe(200);
    expect(response.body.server.name).toBe('Marina');
    expect(typeof response.body.server.version).toBe('string');
  });

  it('takes a transaction once, answers its retry the same, and serves the reads', async () => {
    const join = await betaEvent({
      type: 'm.room.member',
      stateKey: bob,
      sender: bob,
      content: { membership: 'join' },
    });
    const send = {
      method: 'PUT' as const,
      path: '/_matrix/federation/v1/send/txn-1',
      body: { origin: 'beta.test', origin_server_ts: Date.now(), pdus: [join.pdu], edus: [] },
    };
    const first = await fromBeta(send);
    expect(first).toEqual({ status: 200, body: { pdus: { [join.eventId]: {} } } });
    expect(await fromBeta(send)).toEqual(first);
    const members = await alpha.context.services.roomGraph.currentState(roomId);
    expect(members.get(JSON.stringify(['m.room.member', bob]))).toBe(join.eventId);

    const said = await betaEvent({ type: 'm.room.message', sender: bob, content: { body: 'hi' } });
    expect(
      await fromBeta({
        ...send,
        path: '/_matrix/federation/v1/send/txn-2',
        body: { ...send.body, pdus: [said.pdu] },
      }),
    ).toEqual({ status: 200, body: { pdus: { [said.eventId]: {} } } });

    const event = await fromBeta({
      method: 'GET',
      path: path('/_matrix/federation/v1/event/%s', said.eventId),
    });
    expect(event.status).toBe(200);
    expect(event.body).toMatchObject({ origin: 'alpha.test', pdus: [said.pdu] });

    const stateIds = await fromBeta({
      method: 'GET',
      path: path('/_matrix/federation/v1/state_ids/%s', roomId),
      query: { event_id: said.eventId },
    });
    expect(stateIds.status).toBe(200);
    expect(stateIds.body.pdu_ids).toContain(join.eventId);
    expect((stateIds.body.auth_chain_ids as string[]).length).toBeGreaterThan(0);

    const state = await fromBeta({
      method: 'GET',
      path: path('/_matrix/federation/v1/state/%s', roomId),
      query: { event_id: said.eventId },
    });
    expect(state.status).toBe(200);
    expect((state.body.pdus as JsonObject[]).length).toBe(
      (stateIds.body.pdu_ids as string[]).length,
    );

    const missing = await fromBeta({
      method: 'POST',
      path: path('/_matrix/federation/v1/get_missing_events/%s', roomId),
      body: { earliest_events: [join.prevEventIds[0] as string], latest_events: [said.eventId] },
    });
    expect(missing).toEqual({ status: 200, body: { events: [join.pdu] } });

    const backfill = await fromBeta({
      method: 'GET',
      path: path('/_matrix/federation/v1/backfill/%s', roomId),
      query: { v: said.eventId, limit: '2' },
    });
    expect(backfill.status).toBe(200);
    expect(backfill.body.pdus).toEqual([said.pdu, join.pdu]);

    const auth = await fromBeta({
      method: 'GET',
      path: path('/_matrix/federation/v1/event_auth/%s/%s', roomId, said.eventId),
    });
    expect(auth.status).toBe(200);
    const authIds = (auth.body.auth_chain as JsonObject[]).length;
    expect(authIds).toBeGreaterThanOrEqual(said.authEventIds.length);

    const nearest = await fromBeta({
      method: 'GET',
      path: path('/_matrix/federation/v1/timestamp_to_event/%s', roomId),
      query: { ts: String(Date.now() + 60_000), dir: 'b' },
    });
    expect(nearest).toMatchObject({ status: 200, body: { event_id: said.eventId } });

    const alias = await fromBeta({
      method: 'GET',
      path: '/_matrix/federation/v1/query/directory',
      query: { room_alias: '#lobby:alpha.test' },
    });
    expect(alias).toEqual({ status: 200, body: { room_id: roomId, servers: ['alpha.test'] } });
  });

  it('answers 404 for unknown rooms and events, 403 to a server the ACL denies', async () => {
    const unknown = await fromBeta({
      method: 'GET',
      path: path('/_matrix/federation/v1/state_ids/%s', '!nowhere:alpha.test'),
      query: { event_id: '$unknown_event:alpha.test' },
    });
    expect(unknown).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });
    const noEvent = await fromBeta({
      method: 'GET',
      path: path('/_matrix/federation/v1/event/%s', '$unknown_event:alpha.test'),
    });
    expect(noEvent).toMatchObject({ status: 404, body: { errcode: 'M_NOT_FOUND' } });

    await alpha.context.services.roomEvents.send(roomId, {
      type: 'm.room.server_acl',
      stateKey: '',
      sender: alice,
      content: { allow: ['*'], deny: ['beta.test'] },
    });
    const extremity = (await alpha.context.services.roomGraph.forwardExtremities(roomId))[0];
    const denied = await fromBeta({
      method: 'GET',
      path: path('/_matrix/federation/v1/state_ids/%s', roomId),
      query: { event_id: extremity as string },
    });
    expect(denied).toMatchObject({ status: 403, body: { errcode: 'M_FORBIDDEN' } });

    const said = await betaEvent({ type: 'm.room.message', sender: bob, content: { body: 'no' } });
    const sent = await fromBeta({
      method: 'PUT',
      path: '/_matrix/federation/v1/send/txn-3',
      body: { origin: 'beta.test', origin_server_ts: Date.now(), pdus: [said.pdu] },
    });
    expect(sent.status).toBe(200);
    expect((sent.body.pdus as Record<string, { error?: string }>)[said.eventId]?.error).toMatch(
      /server ACL/,
    );
  });

  it('refuses a transaction of more than 50 PDUs with 400', async () => {
    const pdus = Array.from({ length: 51 }, () => ({}));
    const response = await fromBeta({
      method: 'PUT',
      path: '/_matrix/federation/v1/send/txn-big',
      body: { origin: 'beta.test', origin_server_ts: Date.now(), pdus },
    });
    expect(response).toMatchObject({ status: 400, body: { errcode: 'M_BAD_JSON' } });
  });
});
