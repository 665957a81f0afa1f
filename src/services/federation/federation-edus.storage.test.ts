import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startSendFixture,
  type SendFixture,
} from '../../../test/helpers/federation-send-fixture.js';
import { openRoomServices, type TestRoomServices } from '../../../test/helpers/room-services.js';
import { systemClock } from '../../core/clock.js';
import { selectInboxMessages } from '../../storage/devices/to-device-inbox.js';
import { createEphemeralServices, stopEphemeralServices } from '../ephemeral-services.js';
import type { EphemeralServices } from '../ephemeral-services.js';
import { connectOutboundFederation } from './connect-outbound.js';
import { FederationHttpClient } from './federation-http-client.js';
import { InboundEdus } from './inbound-edus.js';
import { OutboundQueue } from './outbound-queue.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

const BOB = '@bob:beta.test';
const CAROL = '@carol:gamma.test';

interface Setup {
  s: TestRoomServices;
  ephemeral: EphemeralServices;
  alice: string;
  roomId: string;
  beta: SendFixture;
  gamma: SendFixture;
  outbound: OutboundQueue;
  inbound: InboundEdus;
  /** Records a user of another server as joined (as the inbound PDU pipeline would). */
  remoteJoin(userId: string): Promise<void>;
  sendMessage(body: string): Promise<string>;
}

async function setup(): Promise<Setup> {
  const s = await openRoomServices();
  cleanups.push(() => s.close());
  const logger = pino({ level: 'silent' });
  const alice = await s.createUser('alice');
  const roomId = await s.rooms.roomCreation.create(alice, { preset: 'public_chat' });
  const ephemeral = createEphemeralServices({
    serverName: s.config.server_name,
    db: s.db,
    clock: s.clock,
    logger,
    accountData: s.services.accountData,
  });
  cleanups.push(() => stopEphemeralServices(ephemeral));
  const beta = await startSendFixture();
  const gamma = await startSendFixture();
  cleanups.push(
    () => beta.close(),
    () => gamma.close(),
  );
  const client = new FederationHttpClient({
    serverName: s.config.server_name,
    signingKey: s.serverKeys.signingKey,
    logger,
    plainHttp: { 'beta.test': beta.hostPort, 'gamma.test': gamma.hostPort },
  });
  const outbound = new OutboundQueue({
    serverName: s.config.server_name,
    db: s.db,
    clock: systemClock,
    logger,
    client,
    roomGraph: s.rooms.roomGraph,
    options: { initialBackoffMs: 50 },
  });
  const stop = connectOutboundFederation({
    serverName: s.config.server_name,
    db: s.db,
    logger,
    outbound,
    roomEvents: s.rooms.roomEvents,
    roomGraph: s.rooms.roomGraph,
    sources: { ...ephemeral, deviceLists: s.services.deviceLists, toDevice: s.services.toDevice },
  });
  cleanups.push(stop);
  const inbound = new InboundEdus({
    typing: ephemeral.typing,
    receipts: ephemeral.receipts,
    presence: ephemeral.presence,
    memberships: ephemeral.membershipLookup,
    deviceLists: s.services.deviceLists,
    toDevice: s.services.toDevice,
    clock: s.clock,
    logger,
  });
  return {
    s,
    ephemeral,
    alice,
    roomId,
    beta,
    gamma,
    outbound,
    inbound,
    // The remote user's join as received over federation: a member event in the room's state
    // (signed here; nothing checks it) and the membership it records.
    remoteJoin: async (userId) => {
      const { roomEvents, roomGraph } = s.rooms;
      const version = await roomEvents.requireRoomVersion(roomId);
      const extremities = await roomGraph.forwardExtremities(roomId);
      const prevEvents = [...(await roomGraph.getEvents(extremities)).values()];
      const stateBefore = await roomGraph.computeStateBefore(roomId, extremities);
      const draft = {
        type: 'm.room.member',
        stateKey: userId,
        sender: userId,
        content: { membership: 'join' },
      };
      const authEvents = await roomEvents.authEventsFor(draft, version, stateBefore);
      const event = roomEvents.build(draft, version, roomId, prevEvents, authEvents);
      await roomEvents.persistReceived(event, { stateBefore });
    },
    sendMessage: (body) =>
      s.rooms.roomMessages.send(
        { userId: alice, deviceId: 'D', isAdmin: false },
        roomId,
        'm.room.message',
        `t-${body}`,
        { body },
      ),
  };
}

const pdusOf = (fixture: SendFixture) => fixture.received.flatMap((txn) => txn.body.pdus);
const edusOf = (fixture: SendFixture) => fixture.received.flatMap((txn) => txn.body.edus ?? []);

describe('outbound fan-out and EDUs', () => {
  it("sends this server's events to every server with a joined member, once", async () => {
    const t = await setup();
    // No other server in the room yet: nothing goes out.
    await t.sendMessage('alone');
    await t.remoteJoin(BOB);
    await t.remoteJoin(CAROL);
    const eventId = await t.sendMessage('hello');
    await t.beta.waitFor(1);
    await t.gamma.waitFor(1);
    await t.outbound.idle();
    for (const fixture of [t.beta, t.gamma]) {
      const pdus = pdusOf(fixture);
      expect(pdus.map((pdu) => (pdu['content'] as { body: string }).body)).toEqual(['hello']);
    }
    expect((await t.s.rooms.roomGraph.getEvent(eventId))?.pdu).toEqual(pdusOf(t.beta)[0]);
  });

  it('sends a ban to the server of the banned user, and not later events', async () => {
    const t = await setup();
    await t.s.rooms.roomMembership.ban(t.alice, t.roomId, BOB, 'bye');
    await t.beta.waitFor(1);
    await t.outbound.idle();
    const ban = pdusOf(t.beta).find((pdu) => pdu['type'] === 'm.room.member');
    expect(ban).toMatchObject({ state_key: BOB, content: { membership: 'ban' } });
    await t.sendMessage('after');
    await t.outbound.idle();
    expect(pdusOf(t.beta).some((pdu) => pdu['type'] === 'm.room.message')).toBe(false);
  });

  it('sends typing and public read receipts of local users as EDUs', async () => {
    const t = await setup();
    await t.remoteJoin(BOB);
    await t.ephemeral.typing.setTyping(t.roomId, t.alice, true, 10_000);
    await t.beta.waitFor(1);
    const eventId = await t.sendMessage('read me');
    await t.ephemeral.receipts.sendReceipt(t.roomId, t.alice, 'm.read', eventId, undefined);
    await t.ephemeral.receipts.sendReceipt(t.roomId, t.alice, 'm.read.private', eventId, undefined);
    await t.ephemeral.typing.setTyping(t.roomId, t.alice, false, 0);
    await expect
      .poll(() => edusOf(t.beta).filter((edu) => edu.edu_type === 'm.typing').length)
      .toBe(2);
    await expect
      .poll(() => edusOf(t.beta).filter((edu) => edu.edu_type === 'm.receipt').length)
      .toBe(1);
    await t.outbound.idle();
    const edus = edusOf(t.beta);
    expect(edus.filter((edu) => edu.edu_type === 'm.typing').map((edu) => edu.content)).toEqual([
      { room_id: t.roomId, user_id: t.alice, typing: true },
      { room_id: t.roomId, user_id: t.alice, typing: false },
    ]);
    const receipts = edus.filter((edu) => edu.edu_type === 'm.receipt');
    expect(receipts).toEqual([
      {
        edu_type: 'm.receipt',
        content: {
          [t.roomId]: {
            'm.read': { [t.alice]: { event_ids: [eventId], data: { ts: t.s.clock.now() } } },
          },
        },
      },
    ]);
    // Private receipts never leave the server.
    expect(JSON.stringify(edus)).not.toContain('m.read.private');
  });

  it('sends to-device messages for remote users as m.direct_to_device, per server', async () => {
    const t = await setup();
    await t.s.services.toDevice.send({ userId: t.alice, deviceId: 'D' }, 'm.test', 'txn1', {
      [BOB]: { BOBDEV: { n: 1 } },
      [CAROL]: { '*': { n: 2 } },
    });
    await t.beta.waitFor(1);
    await t.gamma.waitFor(1);
    const [toBob] = edusOf(t.beta);
    expect(toBob).toMatchObject({
      edu_type: 'm.direct_to_device',
      content: { sender: t.alice, type: 'm.test', messages: { [BOB]: { BOBDEV: { n: 1 } } } },
    });
    expect(typeof (toBob?.content as { message_id: unknown }).message_id).toBe('string');
    expect(edusOf(t.gamma)[0]?.content).toMatchObject({ messages: { [CAROL]: { '*': { n: 2 } } } });
  });
});

describe('inbound EDUs', () => {
  it('applies typing and receipts of joined users the origin speaks for', async () => {
    const t = await setup();
    await t.remoteJoin(BOB);
    const eventId = await t.sendMessage('hi');
    await t.inbound.handle('beta.test', {
      edu_type: 'm.typing',
      content: { room_id: t.roomId, user_id: BOB, typing: true },
    });
    expect(t.ephemeral.typing.typingUsers(t.roomId)).toEqual([BOB]);
    // Another server cannot speak for Bob, and Carol is not in the room.
    await t.inbound.handle('gamma.test', {
      edu_type: 'm.typing',
      content: { room_id: t.roomId, user_id: BOB, typing: false },
    });
    await t.inbound.handle('gamma.test', {
      edu_type: 'm.typing',
      content: { room_id: t.roomId, user_id: CAROL, typing: true },
    });
    expect(t.ephemeral.typing.typingUsers(t.roomId)).toEqual([BOB]);
    await t.inbound.handle('beta.test', {
      edu_type: 'm.typing',
      content: { room_id: t.roomId, user_id: BOB, typing: false },
    });
    expect(t.ephemeral.typing.typingUsers(t.roomId)).toEqual([]);

    await t.inbound.handle('beta.test', {
      edu_type: 'm.receipt',
      content: {
        [t.roomId]: { 'm.read': { [BOB]: { event_ids: [eventId], data: { ts: 1234 } } } },
      },
    });
    await t.inbound.handle('gamma.test', {
      edu_type: 'm.receipt',
      content: {
        [t.roomId]: { 'm.read': { [CAROL]: { event_ids: [eventId], data: { ts: 1 } } } },
      },
    });
    const receipts = await t.ephemeral.receipts.changesBetween(
      t.alice,
      [t.roomId],
      0,
      Number.MAX_SAFE_INTEGER,
    );
    expect(receipts.get(t.roomId)?.content).toEqual({
      [eventId]: { 'm.read': { [BOB]: { ts: 1234 } } },
    });
    // Inbound receipts of other servers' users are not sent back out.
    await t.outbound.idle();
    expect(edusOf(t.beta).filter((edu) => edu.edu_type === 'm.receipt')).toEqual([]);
  });

  it("stores presence and to-device messages of the origin's users, ignores malformed EDUs", async () => {
    const t = await setup();
    await t.remoteJoin(BOB);
    await t.inbound.handle('beta.test', {
      edu_type: 'm.presence',
      content: {
        push: [
          { user_id: BOB, presence: 'online', last_active_ago: 0, currently_active: true },
          { user_id: CAROL, presence: 'online', last_active_ago: 0 },
        ],
      },
    });
    const presence = await t.ephemeral.presence.changesBetween(t.alice, 0, Number.MAX_SAFE_INTEGER);
    expect(presence.map((event) => [event.sender, event.content.presence])).toEqual([
      [BOB, 'online'],
    ]);

    await t.s.db.transact((trx) =>
      t.s.services.devices.open(trx, { userId: t.alice, deviceId: 'ALICEDEV', ip: null }),
    );
    const toDevice = {
      edu_type: 'm.direct_to_device',
      content: {
        sender: BOB,
        type: 'm.room_key_request',
        message_id: 'm1',
        messages: { [t.alice]: { '*': { x: 1 } } },
      },
    };
    await t.inbound.handle('beta.test', toDevice);
    // The same message ID again (a retried transaction) stores nothing more.
    await t.inbound.handle('beta.test', toDevice);
    // Gamma cannot send as Bob.
    await t.inbound.handle('gamma.test', {
      ...toDevice,
      content: { ...toDevice.content, message_id: 'm2' },
    });
    const inbox = await t.s.db.read((db) =>
      selectInboxMessages(db, { userId: t.alice, deviceId: 'ALICEDEV' }, 0, 1e12, 10),
    );
    expect(inbox.map((m) => [m.sender, m.type, m.content])).toEqual([
      [BOB, 'm.room_key_request', '{"x":1}'],
    ]);
    // Malformed or unknown EDUs are dropped without failing.
    await t.inbound.handle('beta.test', { edu_type: 'm.typing', content: 'nope' });
    await t.inbound.handle('beta.test', { edu_type: 'org.example.unknown', content: {} });
  });
});
