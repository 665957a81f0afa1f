import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederatedUser, eventually, type Json } from '../helpers/federated-users.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseSigningKeyFile, type SigningKey } from '../../src/protocol/signing-key.js';
import { xMatrixHeader } from '../../src/protocol/x-matrix.js';
import { requestWithHost } from '../helpers/http-with-host.js';
import { localhostFetch } from '../helpers/localhost-fetch.js';
import { startMarinaUp, type MarinaUp } from '../helpers/marina-up.js';
import { exchangeMessages, startSyncedClient } from '../helpers/sync-scenario.js';

/**
 * Issue 7's proof: `marina up` on two shards with alpha and beta on one shard and gamma on the
 * other, all three federating through the router with signed requests. A room on alpha; users
 * of beta and gamma invited and joined; 100 messages from all three; then the three servers
 * agree on the room's state and on its messages; typing, receipts and display names cross;
 * gamma's shard killed while messages flow comes back and catches up; a power-levels change
 * made on two servers at once resolves to the same state everywhere; alpha keeps federating
 * while it moves between shards; matrix-js-sdk clients on two tenants chat; bad requests get
 * the spec's errors and a server the room's ACL denies is kept out.
 */

const ALPHA = 'alpha.localhost';
const BETA = 'beta.localhost';
const GAMMA = 'gamma.localhost';

describe('federation between tenants of one deployment', () => {
  let up: MarinaUp;
  let alice: FederatedUser;
  let bob: FederatedUser;
  let carol: FederatedUser;
  let roomId: string;
  const users = () => [alice, bob, carol];

  beforeAll(async () => {
    // Shard-0 holds the embedded `localhost`, alpha and beta (full at 3); gamma starts shard-1.
    up = await startMarinaUp(['--shards', '1', '--max-tenants-per-shard', '3']);
    for (const name of [ALPHA, BETA, GAMMA]) await up.createTenant(name, 'open');
    alice = await FederatedUser.register(up.tenantUrl(ALPHA), 'alice');
    bob = await FederatedUser.register(up.tenantUrl(BETA), 'bob');
    carol = await FederatedUser.register(up.tenantUrl(GAMMA), 'carol');
  }, 120_000);

  afterAll(async () => {
    if (up) expect(await up.stop()).toBe(0);
  });

  it('places alpha and beta on one shard and gamma on the other', async () => {
    const shardOf = Object.fromEntries(
      (await up.tenants()).map((tenant) => [tenant.server_name, tenant.shard_id]),
    );
    expect(shardOf[ALPHA]).toBe(shardOf[BETA]);
    expect(shardOf[GAMMA]).not.toBe(shardOf[ALPHA]);
    expect(shardOf[GAMMA]).not.toBeNull();
  });

  it('invites users of beta and gamma into a room on alpha, and they join', async () => {
    roomId = await alice.createRoom({ preset: 'private_chat', name: 'Three servers' });
    await alice.invite(roomId, bob.userId);
    await alice.invite(roomId, carol.userId);
    for (const user of [bob, carol]) {
      await eventually(`${user.userId} sees the invite`, async () => {
        const sync = await user.sync();
        return sync.rooms?.invite?.[roomId] ? true : undefined;
      });
      expect(await user.join(roomId, [ALPHA])).toBe(roomId);
    }
    for (const user of users()) {
      await eventually(`${user.userId} sees three joined members`, async () => {
        const joined = await user.ok('GET', `/rooms/${encodeURIComponent(roomId)}/joined_members`);
        return Object.keys(joined.joined).length === 3 ? true : undefined;
      });
    }
  });

  it('carries 100 messages from all three servers to all three', async () => {
    const sent: string[] = [];
    // 30 from each server at once (the graph forks and merges), then 10 one at a time.
    await Promise.all(
      users().map(async (user, index) => {
        for (let i = 0; i < 30; i += 1) {
          const body = `m${index}-${i}`;
          await user.send(roomId, body);
          sent.push(body);
        }
      }),
    );
    await eventually('the 90 concurrent messages everywhere', async () => {
      for (const user of users()) {
        if ((await user.messageBodies(roomId)).length < 90) return undefined;
      }
      return true;
    });
    const sequential: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const user = users()[i % 3] as FederatedUser;
      const body = `seq-${i}`;
      await user.send(roomId, body);
      sequential.push(body);
      await eventually(`${body} everywhere`, async () => {
        for (const other of users()) {
          if (!(await other.messageBodies(roomId)).includes(body)) return undefined;
        }
        return true;
      });
    }
    const seen = await Promise.all(users().map((user) => user.messageBodies(roomId)));
    for (const [index, bodies] of seen.entries()) {
      expect(bodies.length, `messages on server ${index}`).toBe(100);
      expect(new Set(bodies)).toEqual(new Set([...sent, ...sequential]));
      // Each sender's messages in the order sent; the sequential ones in one order everywhere.
      for (let sender = 0; sender < 3; sender += 1) {
        const own = bodies.filter((body) => body.startsWith(`m${sender}-`));
        expect(own).toEqual(Array.from({ length: 30 }, (_, i) => `m${sender}-${i}`));
      }
      expect(bodies.slice(-10)).toEqual(sequential);
    }
    await expectSameState();
  });

  it('shows typing, read receipts and display names across servers', async () => {
    await bob.ok(
      'PUT',
      `/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(bob.userId)}`,
      {
        typing: true,
        timeout: 20_000,
      },
    );
    for (const user of [alice, carol]) {
      await eventually(`${user.userId} sees bob typing`, async () => {
        const sync = await user.sync('timeout=0');
        const typing = sync.rooms?.join?.[roomId]?.ephemeral?.events?.find(
          (event: Json) => event.type === 'm.typing',
        );
        return typing?.content.user_ids.includes(bob.userId) ? true : undefined;
      });
    }
    const lastEvent = await carol.send(roomId, 'read me');
    await eventually("alpha has carol's message", async () =>
      (await alice.messageBodies(roomId)).includes('read me') ? true : undefined,
    );
    await alice.ok(
      'POST',
      `/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(lastEvent)}`,
      {},
    );
    for (const user of [bob, carol]) {
      await eventually(`${user.userId} sees alice's receipt`, async () => {
        const sync = await user.sync('timeout=0');
        const receipts = sync.rooms?.join?.[roomId]?.ephemeral?.events?.find(
          (event: Json) => event.type === 'm.receipt',
        );
        return receipts?.content[lastEvent]?.['m.read']?.[alice.userId] ? true : undefined;
      });
    }
    await carol.ok('PUT', `/profile/${encodeURIComponent(carol.userId)}/displayname`, {
      displayname: 'Carol of Gamma',
    });
    for (const user of [alice, bob]) {
      await eventually(`${user.userId} sees carol's new name`, async () => {
        const state = await user.state(roomId);
        const member = state.find(
          (event: Json) => event.type === 'm.room.member' && event.state_key === carol.userId,
        );
        return member?.content.displayname === 'Carol of Gamma' ? true : undefined;
      });
    }
  });

  it('catches gamma up after its shard was killed while messages flowed', async () => {
    const gammaShard = (await up.tenant(GAMMA)).shard_id as string;
    const before = (await up.shards()).find((shard) => shard.shard_id === gammaShard);
    process.kill(before?.pid as number, 'SIGKILL');
    const during: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const body = `while-gamma-down-${i}`;
      await (i % 2 === 0 ? alice : bob).send(roomId, body);
      during.push(body);
    }
    await eventually(
      'gamma has every message sent while it was down',
      async () => {
        const bodies = await carol.messageBodies(roomId);
        return during.every((body) => bodies.includes(body)) ? bodies : undefined;
      },
      90_000,
    );
    const after = (await up.shards()).find((shard) => shard.shard_id === gammaShard);
    expect(after?.pid).not.toBe(before?.pid);
    await expectSameState();
  });

  it('resolves a power-levels change made on two servers at once identically on all three', async () => {
    const levels = (await alice.ok(
      'GET',
      `/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`,
    )) as Json;
    await alice.setState(roomId, 'm.room.power_levels', {
      ...levels,
      users: { ...levels.users, [bob.userId]: 100 },
    });
    await eventually('bob is an admin on beta', async () => {
      const seen = await bob.ok(
        'GET',
        `/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`,
      );
      return seen.users?.[bob.userId] === 100 ? seen : undefined;
    });
    const base = await bob.ok(
      'GET',
      `/rooms/${encodeURIComponent(roomId)}/state/m.room.power_levels/`,
    );
    // Both change the same state at the same time, each on its own server.
    await Promise.all([
      alice.setState(roomId, 'm.room.power_levels', { ...base, events_default: 10 }),
      bob.setState(roomId, 'm.room.power_levels', { ...base, state_default: 60 }),
    ]);
    // A message from each server afterwards merges the fork everywhere.
    for (const user of users()) await user.send(roomId, `after-pl-${user.userId}`);
    await expectSameState();
  });

  it('keeps federating while alpha moves to the other shard and back', async () => {
    const sent: string[] = [];
    const sending = (async () => {
      for (let i = 0; i < 12; i += 1) {
        const body = `during-moves-${i}`;
        await alice.send(roomId, body);
        sent.push(body);
      }
    })();
    const home = (await up.tenant(ALPHA)).shard_id as string;
    const other = home === 'shard-0' ? 'shard-1' : 'shard-0';
    for (const to of [other, home]) {
      expect(await up.admin('POST', `/tenants/${ALPHA}/move`, { to })).toMatchObject({
        status: 200,
        body: { server_name: ALPHA, to },
      });
    }
    await sending;
    for (const user of [bob, carol]) {
      await eventually(`${user.userId} has every message sent during the moves`, async () => {
        const bodies = await user.messageBodies(roomId);
        return sent.every((body) => bodies.includes(body)) ? true : undefined;
      });
      const bodies = (await user.messageBodies(roomId)).filter((body) =>
        body.startsWith('during-moves-'),
      );
      expect(bodies).toEqual(sent);
    }
    // Gamma's messages reach alpha on its shard again.
    await carol.send(roomId, 'back home');
    await eventually('alpha has gamma’s message after the moves', async () =>
      (await alice.messageBodies(roomId)).includes('back home') ? true : undefined,
    );
  });

  it('lets matrix-js-sdk clients on alpha and gamma chat with each other', async () => {
    const dave = await FederatedUser.register(up.tenantUrl(ALPHA), 'dave');
    const erin = await FederatedUser.register(up.tenantUrl(GAMMA), 'erin');
    const clients = await Promise.all(
      [dave, erin].map((user) =>
        startSyncedClient(user.baseUrl, localhostFetch, {
          userId: user.userId,
          deviceId: user.deviceId,
          accessToken: user.token,
        }),
      ),
    );
    try {
      const { sent } = await exchangeMessages(clients[0]!, clients[1]!);
      expect(sent).toHaveLength(50);
    } finally {
      for (const client of clients) client.stopClient();
    }
  });

  it('serves media uploaded on alpha to a user on gamma, fetched over federation', async () => {
    const bytes = Buffer.from('a picture of alpha, in bytes');
    const uploaded = await localhostFetch(
      `${alice.baseUrl}/_matrix/media/v3/upload?filename=a.txt`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'text/plain' },
        body: bytes,
      },
    );
    expect(uploaded.status).toBe(200);
    const contentUri = ((await uploaded.json()) as Json).content_uri as string;
    const [serverName, mediaId] = contentUri.slice('mxc://'.length).split('/');
    expect(serverName).toBe(ALPHA);
    const downloaded = await localhostFetch(
      `${carol.baseUrl}/_matrix/client/v1/media/download/${serverName}/${mediaId}`,
      { headers: { authorization: `Bearer ${carol.token}` } },
    );
    expect(downloaded.status).toBe(200);
    expect(downloaded.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(Buffer.from(await downloaded.arrayBuffer())).toEqual(bytes);
  });

  it("answers bad federation requests with the spec's errors, and enforces server ACLs", async () => {
    const betaKey = await signingKeyOf(BETA);
    const stateIds = `/_matrix/federation/v1/state_ids/${encodeURIComponent(roomId)}`;
    const federationGet = (
      path: string,
      options: { signedFor?: string; tamper?: boolean; key?: SigningKey } = {},
    ) => {
      let authorization = xMatrixHeader(
        { method: 'GET', uri: path, origin: BETA, destination: options.signedFor ?? GAMMA },
        options.key ?? betaKey,
      );
      if (options.tamper) authorization = authorization.replace(/sig="(.)/, 'sig="A$1');
      return requestWithHost(`http://127.0.0.1:${up.port}`, {
        path,
        host: GAMMA,
        headers: { authorization },
      });
    };
    const lastEventId = (await carol.messageEvents(roomId)).at(-1)?.event_id as string;
    const atEvent = `${stateIds}?event_id=${encodeURIComponent(lastEventId)}`;
    // Signed by beta, addressed to gamma, through the router: the state at the event.
    const good = await federationGet(atEvent);
    expect(good.status).toBe(200);
    expect(good.json.pdu_ids.length).toBeGreaterThan(3);
    // Addressed to another server, or a signature that does not verify: 401.
    for (const bad of [{ signedFor: ALPHA }, { tamper: true }]) {
      expect(await federationGet(atEvent, bad)).toMatchObject({
        status: 401,
        json: { errcode: 'M_UNAUTHORIZED' },
      });
    }
    // An unknown room: 404.
    const unknown = await federationGet(
      `/_matrix/federation/v1/state_ids/${encodeURIComponent('!nowhere:gamma.localhost')}?event_id=${encodeURIComponent(lastEventId)}`,
    );
    expect(unknown).toMatchObject({ status: 404, json: { errcode: 'M_NOT_FOUND' } });

    // The room denies beta: gamma refuses beta's requests and drops beta's events.
    await alice.setState(roomId, 'm.room.server_acl', {
      allow: ['*'],
      deny: [BETA],
      allow_ip_literals: false,
    });
    await eventually('gamma applies the ACL', async () => {
      const denied = await federationGet(atEvent);
      return denied.status === 403 && denied.json.errcode === 'M_FORBIDDEN' ? true : undefined;
    });
    const makeJoin = await federationGet(
      `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent('@newcomer:beta.localhost')}?ver=12`,
    );
    expect(makeJoin).toMatchObject({ status: 403, json: { errcode: 'M_FORBIDDEN' } });
    await bob.send(roomId, 'from a denied server');
    await alice.send(roomId, 'after the ACL');
    await eventually('gamma has the message sent after the ACL', async () =>
      (await carol.messageBodies(roomId)).includes('after the ACL') ? true : undefined,
    );
    // Beta's transaction reached gamma by now or was refused: either way its event is not there.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await carol.messageBodies(roomId)).not.toContain('from a denied server');
    expect(await alice.messageBodies(roomId)).not.toContain('from a denied server');
  });

  /** A tenant's signing key, as `marina tenant create` wrote it. */
  async function signingKeyOf(serverName: string): Promise<SigningKey> {
    const text = await readFile(join(up.dataDir, 'tenants', serverName, 'signing.key'), 'utf8');
    return parseSigningKeyFile(text)[0] as SigningKey;
  }

  /** Waits until the three servers report the same room state (event IDs by type and key). */
  async function expectSameState(): Promise<void> {
    const stateKey = (state: Json[]) =>
      JSON.stringify(
        state.map((event) => `${event.type}|${event.state_key}|${event.event_id}`).sort(),
      );
    await eventually(
      'the same room state on alpha, beta and gamma',
      async () => {
        const states = await Promise.all(users().map((user) => user.state(roomId)));
        const keys = states.map(stateKey);
        return keys.every((key) => key === keys[0]) ? true : undefined;
      },
      60_000,
    );
  }
});
