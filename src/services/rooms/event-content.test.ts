import { describe, expect, it } from 'vitest';
import { checkEventContent } from './event-content.js';

const context = {
  roomId: '!r:a.test',
  currentCanonicalAlias: { alias: '#old:a.test' },
  resolveAlias: async (alias: string) =>
    alias === '#mine:a.test' || alias === '#old:a.test'
      ? '!r:a.test'
      : alias === '#theirs:a.test'
        ? '!other:a.test'
        : undefined,
};
const state = (type: string, content: Record<string, unknown>, stateKey = '') =>
  checkEventContent({ type, stateKey, sender: '@a:a.test', content: content as never }, context);

describe('checkEventContent', () => {
  it('accepts well-formed state and any message content', async () => {
    await state('m.room.power_levels', {
      ban: 50,
      events: { 'm.room.name': 50 },
      users: { '@a:a.test': 100 },
    });
    await state('m.room.name', { name: 'x' });
    await state('m.room.name', {});
    await state('m.room.topic', { topic: null });
    await state('m.room.history_visibility', { history_visibility: 'joined' });
    await state('m.room.member', { membership: 'leave' }, '@b:a.test');
    await state('m.room.canonical_alias', { alias: '#mine:a.test', alt_aliases: ['#old:a.test'] });
    await state('m.room.canonical_alias', {});
    await checkEventContent(
      { type: 'm.room.power_levels', sender: '@a:a.test', content: { ban: 'x' } },
      context,
    );
  });

  it('refuses malformed state with the spec errcodes', async () => {
    const cases: Array<[string, Record<string, unknown>, string, string?]> = [
      ['m.room.power_levels', { ban: '50' }, 'M_BAD_JSON'],
      ['m.room.power_levels', { events: { x: 1.5 } }, 'M_BAD_JSON'],
      ['m.room.power_levels', { users: { nobody: 1 } }, 'M_BAD_JSON'],
      ['m.room.name', { name: ['x'] }, 'M_BAD_JSON'],
      ['m.room.join_rules', { join_rule: 1 }, 'M_BAD_JSON'],
      ['m.room.history_visibility', { history_visibility: 'all' }, 'M_BAD_JSON'],
      ['m.room.member', { membership: 'join' }, 'M_INVALID_PARAM', 'not-a-user'],
      ['m.room.member', { membership: 'party' }, 'M_BAD_JSON', '@b:a.test'],
      ['m.room.canonical_alias', { alias: 'no' }, 'M_INVALID_PARAM'],
      ['m.room.canonical_alias', { alias: '#theirs:a.test' }, 'M_BAD_ALIAS'],
      ['m.room.canonical_alias', { alt_aliases: ['#unknown:a.test'] }, 'M_BAD_ALIAS'],
      ['m.room.canonical_alias', { alt_aliases: '#mine:a.test' }, 'M_BAD_JSON'],
    ];
    for (const [type, content, errcode, stateKey] of cases) {
      await expect(
        state(type, content, stateKey),
        `${type} ${JSON.stringify(content)}`,
      ).rejects.toMatchObject({
        errcode,
        status: 400,
      });
    }
  });
});
