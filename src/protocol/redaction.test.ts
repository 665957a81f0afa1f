import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../core/canonical-json.js';
import { redactEvent } from './redaction.js';
import { getRoomVersion } from './room-versions.js';
import type { RoomVersion } from './room-versions.js';

const ALL = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12'];

function version(id: string): RoomVersion {
  const v = getRoomVersion(id);
  if (v === undefined) throw new Error(`missing room version ${id}`);
  return v;
}

/** Every version paired with whether a rule applies to it (versions `first`–`last`). */
function inVersions(first: number, last: number) {
  return ALL.map((id) => [id, Number(id) >= first && Number(id) <= last] as const);
}

function event(type: string, content: JsonObject, extra: JsonObject = {}): JsonObject {
  return {
    type,
    room_id: '!room:example.org',
    sender: '@alice:example.org',
    state_key: '',
    origin_server_ts: 1000,
    depth: 5,
    prev_events: ['$prev'],
    auth_events: ['$auth'],
    hashes: { sha256: 'hash' },
    signatures: { 'example.org': { 'ed25519:1': 'sig' } },
    content,
    ...extra,
  };
}

const redactContent = (id: string, type: string, content: JsonObject) =>
  redactEvent(event(type, content), version(id)).content as JsonObject;

describe('top-level keys', () => {
  const essential = [
    'type',
    'room_id',
    'sender',
    'state_key',
    'origin_server_ts',
    'depth',
    'prev_events',
    'auth_events',
    'hashes',
    'signatures',
  ];
  const legacy: JsonObject = {
    event_id: '$event:example.org',
    origin: 'example.org',
    membership: 'join',
    prev_state: [],
    unsigned: { age_ts: 1 },
    redacts: '$target',
    custom: 'x',
  };

  it.each(ALL)(
    'v%s keeps the essential keys and event_id, drops unsigned, redacts and others',
    (id) => {
      const redacted = redactEvent(event('m.room.message', { body: 'hi' }, legacy), version(id));
      for (const key of [...essential, 'event_id', 'content']) expect(redacted).toHaveProperty(key);
      expect(redacted).not.toHaveProperty('unsigned');
      expect(redacted).not.toHaveProperty('redacts');
      expect(redacted).not.toHaveProperty('custom');
      expect(redacted.state_key).toBe('');
    },
  );

  it.each(inVersions(1, 10))('v%s keeps origin, membership and prev_state: %s', (id, kept) => {
    const redacted = redactEvent(event('m.room.message', {}, legacy), version(id));
    for (const key of ['origin', 'membership', 'prev_state']) {
      expect(Object.hasOwn(redacted, key)).toBe(kept);
    }
  });
});

describe('content of other event types', () => {
  it.each(ALL)('v%s empties m.room.message content, even keys other types keep', (id) => {
    expect(redactContent(id, 'm.room.message', { body: 'hi', membership: 'join' })).toEqual({});
  });

  it.each(ALL)('v%s always outputs a content object', (id) => {
    const { content: _content, ...noContent } = event('m.room.member', {});
    expect(redactEvent(noContent, version(id)).content).toEqual({});
    expect(redactEvent({ ...noContent, content: 'x' }, version(id)).content).toEqual({});
  });

  it.each(ALL)('v%s treats prototype-named event types as ordinary types', (id) => {
    for (const type of ['constructor', '__proto__', 'toString']) {
      expect(redactContent(id, type, { membership: 'join' })).toEqual({});
    }
  });
});

describe('m.room.member', () => {
  const content = {
    membership: 'join',
    displayname: 'Alice',
    avatar_url: 'mxc://example.org/a',
    join_authorised_via_users_server: '@admin:example.org',
  };

  it.each(ALL)('v%s keeps membership and drops displayname', (id) => {
    const redacted = redactContent(id, 'm.room.member', content);
    expect(redacted.membership).toBe('join');
    expect(redacted).not.toHaveProperty('displayname');
    expect(redacted).not.toHaveProperty('avatar_url');
  });

  it.each(inVersions(9, 12))('v%s keeps join_authorised_via_users_server: %s', (id, kept) => {
    const redacted = redactContent(id, 'm.room.member', content);
    expect(Object.hasOwn(redacted, 'join_authorised_via_users_server')).toBe(kept);
  });

  const invite = {
    membership: 'invite',
    third_party_invite: { display_name: 'alice@example.org', signed: { mxid: '@a:b', token: 't' } },
  };

  it.each(inVersions(11, 12))('v%s keeps third_party_invite.signed only: %s', (id, kept) => {
    const redacted = redactContent(id, 'm.room.member', invite);
    if (kept) {
      expect(redacted.third_party_invite).toEqual({ signed: { mxid: '@a:b', token: 't' } });
    } else {
      expect(redacted).not.toHaveProperty('third_party_invite');
    }
  });

  it('v11 keeps an empty third_party_invite without signed, and drops a non-object one', () => {
    const without = { membership: 'invite', third_party_invite: { display_name: 'x' } };
    expect(redactContent('11', 'm.room.member', without).third_party_invite).toEqual({});
    const bogus = { membership: 'invite', third_party_invite: 'x' };
    expect(redactContent('11', 'm.room.member', bogus)).toEqual({ membership: 'invite' });
  });
});

describe('m.room.create', () => {
  const content = {
    creator: '@alice:example.org',
    room_version: '9',
    'm.federate': false,
    predecessor: { room_id: '!old:example.org' },
  };

  it.each(inVersions(1, 10))('v%s keeps only creator (else all content): %s', (id, onlyCreator) => {
    const redacted = redactContent(id, 'm.room.create', content);
    expect(redacted).toEqual(onlyCreator ? { creator: '@alice:example.org' } : content);
  });

  it('v12 keeps additional_creators with the rest of the content', () => {
    const v12 = { room_version: '12', additional_creators: ['@bob:example.org'] };
    expect(redactContent('12', 'm.room.create', v12)).toEqual(v12);
  });
});

describe('m.room.join_rules', () => {
  const content = {
    join_rule: 'restricted',
    allow: [{ type: 'm.room_membership', room_id: '!space:example.org' }],
    extra: true,
  };

  it.each(ALL)('v%s keeps join_rule and drops other keys', (id) => {
    const redacted = redactContent(id, 'm.room.join_rules', content);
    expect(redacted.join_rule).toBe('restricted');
    expect(redacted).not.toHaveProperty('extra');
  });

  it.each(inVersions(8, 12))('v%s keeps allow: %s', (id, kept) => {
    expect(Object.hasOwn(redactContent(id, 'm.room.join_rules', content), 'allow')).toBe(kept);
  });
});

describe('m.room.power_levels', () => {
  const content = {
    ban: 50,
    events: { 'm.room.name': 50 },
    events_default: 0,
    kick: 50,
    redact: 50,
    state_default: 50,
    users: { '@alice:example.org': 100 },
    users_default: 0,
    invite: 0,
    notifications: { room: 50 },
  };

  it.each(ALL)('v%s keeps the v1 keys and drops notifications', (id) => {
    const redacted = redactContent(id, 'm.room.power_levels', content);
    const { invite: _invite, notifications: _notifications, ...v1Keys } = content;
    expect(redacted).toMatchObject(v1Keys);
    expect(redacted).not.toHaveProperty('notifications');
  });

  it.each(inVersions(11, 12))('v%s keeps invite: %s', (id, kept) => {
    expect(Object.hasOwn(redactContent(id, 'm.room.power_levels', content), 'invite')).toBe(kept);
  });
});

describe('m.room.history_visibility', () => {
  it.each(ALL)('v%s keeps history_visibility and drops other keys', (id) => {
    const content = { history_visibility: 'shared', other: 1 };
    expect(redactContent(id, 'm.room.history_visibility', content)).toEqual({
      history_visibility: 'shared',
    });
  });
});

describe('m.room.aliases', () => {
  it.each(inVersions(1, 5))('v%s keeps aliases: %s', (id, kept) => {
    const content = { aliases: ['#a:example.org'], other: 1 };
    expect(redactContent(id, 'm.room.aliases', content)).toEqual(
      kept ? { aliases: ['#a:example.org'] } : {},
    );
  });
});

describe('m.room.redaction', () => {
  it.each(inVersions(11, 12))('v%s keeps content.redacts: %s', (id, kept) => {
    const redacted = redactEvent(
      event('m.room.redaction', { redacts: '$target', reason: 'spam' }, { redacts: '$target' }),
      version(id),
    );
    expect(redacted.content).toEqual(kept ? { redacts: '$target' } : {});
    expect(redacted).not.toHaveProperty('redacts');
  });
});

describe('copying', () => {
  it('does not modify the input nor share nested values with it', () => {
    const input = event('m.room.power_levels', { users: { '@a:b': 100 }, body: 'x' });
    const before = structuredClone(input);
    const redacted = redactEvent(input, version('10'));
    expect(input).toEqual(before);
    (redacted.content as { users: Record<string, number> }).users['@a:b'] = 0;
    (redacted.prev_events as string[]).push('$other');
    expect(input).toEqual(before);
  });

  it('is idempotent', () => {
    for (const id of ALL) {
      const once = redactEvent(event('m.room.member', { membership: 'join', x: 1 }), version(id));
      expect(redactEvent(once, version(id))).toEqual(once);
    }
  });
});
