import { describe, expect, it } from 'vitest';
import { shouldReplaceBackupKey, type BackupKeyRank } from './replacement-rule.js';

const key = (isVerified: boolean, firstMessageIndex: number, forwardedCount: number) =>
  ({ isVerified, firstMessageIndex, forwardedCount }) satisfies BackupKeyRank;

describe('the key backup replacement rule', () => {
  it('keeps the verified key whatever the other fields say', () => {
    expect(shouldReplaceBackupKey(key(false, 0, 0), key(true, 9, 9))).toBe(true);
    expect(shouldReplaceBackupKey(key(true, 9, 9), key(false, 0, 0))).toBe(false);
  });

  it('with the same verification, keeps the lower first_message_index', () => {
    expect(shouldReplaceBackupKey(key(true, 5, 0), key(true, 2, 3))).toBe(true);
    expect(shouldReplaceBackupKey(key(false, 2, 3), key(false, 5, 0))).toBe(false);
  });

  it('then keeps the lower forwarded_count', () => {
    expect(shouldReplaceBackupKey(key(false, 1, 2), key(false, 1, 1))).toBe(true);
    expect(shouldReplaceBackupKey(key(false, 1, 1), key(false, 1, 2))).toBe(false);
  });

  it('keeps the stored key on a full tie', () => {
    expect(shouldReplaceBackupKey(key(true, 1, 1), key(true, 1, 1))).toBe(false);
  });
});
