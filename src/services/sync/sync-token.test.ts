import { describe, expect, it } from 'vitest';
import { MatrixError } from '../../core/errors.js';
import {
  INITIAL_SYNC_TOKEN,
  decodeSyncToken,
  encodeSyncToken,
  isTokenAfter,
} from './sync-token.js';

describe('sync tokens', () => {
  const token = {
    events: 12,
    account_data: 3,
    receipts: 4,
    typing: 1_731_000_000_123,
    presence: 5,
    to_device: 6,
    device_lists: 7,
  };

  it('encode every stream in order, starting with s<events>_', () => {
    expect(encodeSyncToken(token)).toBe('s12_3_4_1731000000123_5_6_7');
    expect(encodeSyncToken(INITIAL_SYNC_TOKEN)).toBe('s0_0_0_0_0_0_0');
  });

  it('decode what they encode', () => {
    expect(decodeSyncToken(encodeSyncToken(token))).toEqual(token);
    expect(decodeSyncToken('s0_0_0_0_0_0_0')).toEqual(INITIAL_SYNC_TOKEN);
  });

  it.each([
    '',
    's',
    '12_3_4_5_6_7_8',
    's12_3_4_5_6_7',
    's12_3_4_5_6_7_8_9',
    's12_3_4_5_6_7_',
    's-1_0_0_0_0_0_0',
    's1.5_0_0_0_0_0_0',
    's1_0_0_0_0_0_0 ',
    't12-3',
    's1_0_0_0_0_0_0000000000000000',
    's١_0_0_0_0_0_0',
  ])('reject %j with 400 M_INVALID_PARAM', (text) => {
    let error: unknown;
    try {
      decodeSyncToken(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(MatrixError);
    expect(error).toMatchObject({ errcode: 'M_INVALID_PARAM', status: 400 });
  });

  it('compare stream by stream', () => {
    expect(isTokenAfter(token, token)).toBe(false);
    expect(isTokenAfter({ ...token, presence: 6 }, token)).toBe(true);
    expect(isTokenAfter(token, { ...token, presence: 6 })).toBe(false);
  });
});
