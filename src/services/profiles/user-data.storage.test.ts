import { afterEach, describe, expect, it } from 'vitest';
import {
  openAccountServices,
  type TestAccountServices,
} from '../../../test/helpers/account-services.js';
import type { ProfileChange } from './profiles.js';

const opened: TestAccountServices[] = [];
afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

async function setup() {
  const t = await openAccountServices();
  opened.push(t);
  const { userId } = await t.services.registration.createAccount({
    localpart: 'alice',
    isAdmin: false,
    isGuest: false,
  });
  return { ...t, userId };
}

describe('Profiles', () => {
  it('sets and clears fields, telling listeners what changed', async () => {
    const { services, userId } = await setup();
    const changes: ProfileChange[] = [];
    services.profiles.changed.add((change) => void changes.push(change));
    // A failing listener is logged and does not stop the others or undo the change.
    services.profiles.changed.add(() => {
      throw new Error('listener bug');
    });
    await services.profiles.set(userId, 'displayname', 'Alice');
    await services.profiles.set(userId, 'avatar_url', 'mxc://alpha.test/abc_DEF-1');
    await services.profiles.set(userId, 'displayname', 'Alice');
    await services.profiles.set(userId, 'displayname', '');
    expect(await services.profiles.get(userId)).toEqual({
      avatar_url: 'mxc://alpha.test/abc_DEF-1',
    });
    expect(changes).toEqual([
      { userId, field: 'displayname', value: 'Alice', previous: 'alice' },
      { userId, field: 'avatar_url', value: 'mxc://alpha.test/abc_DEF-1', previous: null },
      { userId, field: 'displayname', value: null, previous: 'Alice' },
    ]);
  });

  it('validates values and knows only local users', async () => {
    const { services, userId } = await setup();
    await expect(
      services.profiles.set(userId, 'avatar_url', 'https://x/y.png'),
    ).rejects.toMatchObject({
      errcode: 'M_INVALID_PARAM',
    });
    await expect(
      services.profiles.set(userId, 'displayname', 'x'.repeat(257)),
    ).rejects.toMatchObject({
      errcode: 'M_INVALID_PARAM',
    });
    await expect(services.profiles.get('@nobody:alpha.test')).rejects.toMatchObject({
      errcode: 'M_NOT_FOUND',
      status: 404,
    });
  });
});

describe('AccountData', () => {
  it('keeps global and room data apart, on increasing stream positions', async () => {
    const { services, userId } = await setup();
    const positions: number[] = [];
    services.accountData.changed.add(({ streamId }) => void positions.push(streamId));
    await services.accountData.set(userId, null, 'org.example.a', { v: 1 });
    await services.accountData.set(userId, '!room:alpha.test', 'org.example.a', { v: 2 });
    expect(await services.accountData.get(userId, null, 'org.example.a')).toEqual({ v: 1 });
    expect(await services.accountData.get(userId, '!room:alpha.test', 'org.example.a')).toEqual({
      v: 2,
    });
    expect(positions[1]).toBeGreaterThan(positions[0] as number);
    expect(
      (await services.accountData.since(userId, positions[0] as number)).map((r) => r.roomId),
    ).toEqual(['!room:alpha.test']);
  });

  it('refuses server-managed types with 405 M_BAD_JSON', async () => {
    const { services, userId } = await setup();
    for (const type of ['m.fully_read', 'm.push_rules']) {
      await expect(services.accountData.set(userId, null, type, {})).rejects.toMatchObject({
        errcode: 'M_BAD_JSON',
        status: 405,
      });
    }
  });
});

describe('Filters', () => {
  it('stores filters per user and returns the same ID for the same filter', async () => {
    const { services, userId } = await setup();
    const filter = { room: { timeline: { limit: 10 } }, event_format: 'client' as const };
    const id = await services.filters.create(userId, filter);
    expect(id).toMatch(/^[a-z0-9]{12}$/);
    expect(
      await services.filters.create(userId, {
        event_format: 'client',
        room: { timeline: { limit: 10 } },
      }),
    ).toBe(id);
    expect(await services.filters.create(userId, { room: { timeline: { limit: 11 } } })).not.toBe(
      id,
    );
    expect(await services.filters.get(userId, id)).toEqual(filter);
    await expect(services.filters.get('@bob:alpha.test', id)).rejects.toMatchObject({
      errcode: 'M_NOT_FOUND',
    });
  });
});
