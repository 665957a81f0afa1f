import { afterEach, describe, expect, it } from 'vitest';
import {
  openAccountServices,
  type TestAccountServices,
} from '../../../test/helpers/account-services.js';
import { hashToken } from './secrets.js';

const opened: TestAccountServices[] = [];
afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

describe('OpenidTokens', () => {
  it('stores tokens as hashes, answers their owner until they expire, prunes expired ones', async () => {
    const t = await openAccountServices({ registration_mode: 'open' });
    opened.push(t);
    const { openidTokens } = t.services;
    const first = await openidTokens.issue('@alice:alpha.test');
    expect(first.expires_in).toBe(3600);
    expect(await openidTokens.userOf(first.access_token)).toBe('@alice:alpha.test');
    const rows = await t.db.read((db) => db.selectFrom('openid_tokens').selectAll().execute());
    expect(rows.map((row) => row.token_hash)).toEqual([hashToken(first.access_token)]);
    expect(await openidTokens.userOf('')).toBeUndefined();
    expect(await openidTokens.userOf('x'.repeat(2000))).toBeUndefined();

    t.clock.advance(openidTokens.lifetimeMs);
    expect(await openidTokens.userOf(first.access_token)).toBeUndefined();
    const second = await openidTokens.issue('@bob:alpha.test');
    const left = await t.db.read((db) =>
      db.selectFrom('openid_tokens').select('user_id').execute(),
    );
    expect(left).toEqual([{ user_id: '@bob:alpha.test' }]);

    await openidTokens.forgetUser('@bob:alpha.test');
    expect(await openidTokens.userOf(second.access_token)).toBeUndefined();
  });
});
