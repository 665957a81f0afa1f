import { describe, expect, it } from 'vitest';
import type { JsonValue } from '../../core/canonical-json.js';
import { TestCrossSigningKeys, TestDeviceKeys } from '../../../test/helpers/test-e2ee-keys.js';
import { checkRemoteClaimAnswer, checkRemoteQueryAnswer } from './remote-key-checks.js';

const ALICE = '@alice:remote.test';
const MALLORY = '@mallory:other.test';

describe('checkRemoteQueryAnswer', () => {
  const phone = new TestDeviceKeys(ALICE, 'PHONE');
  const laptop = new TestDeviceKeys(ALICE, 'LAPTOP');
  const cross = new TestCrossSigningKeys(ALICE);
  const master = cross.key('master', cross.master);
  const selfSigning = cross.key('self_signing', cross.selfSigning);

  it('keeps self-signed device keys of the users asked, and their cross-signing keys', () => {
    const named = { ...phone.deviceKeys(), unsigned: { device_display_name: 'Phone' } };
    const answer = {
      device_keys: { [ALICE]: { PHONE: named, LAPTOP: laptop.deviceKeys() } },
      master_keys: { [ALICE]: master },
      self_signing_keys: { [ALICE]: selfSigning },
    };
    expect(checkRemoteQueryAnswer('remote.test', { [ALICE]: [] }, answer)).toEqual(answer);
    // Only the devices asked for.
    expect(
      checkRemoteQueryAnswer('remote.test', { [ALICE]: ['LAPTOP'] }, answer).device_keys,
    ).toEqual({ [ALICE]: { LAPTOP: laptop.deviceKeys() } });
  });

  it('drops keys filed under another device or user, badly signed, or of users not asked', () => {
    const tampered = { ...phone.deviceKeys(), algorithms: ['m.megolm.v1.aes-sha2'] };
    const answer = {
      device_keys: {
        [ALICE]: {
          PHONE: tampered,
          OTHER: laptop.deviceKeys(),
          LAPTOP: 'not an object',
        },
        '@bob:remote.test': { X: new TestDeviceKeys('@bob:remote.test', 'X').deviceKeys() },
      },
      master_keys: {},
      self_signing_keys: {},
    };
    expect(checkRemoteQueryAnswer('remote.test', { [ALICE]: [] }, answer)).toEqual({
      device_keys: { [ALICE]: {} },
      master_keys: {},
      self_signing_keys: {},
    });
  });

  it('drops a self-signing key not signed by the master key, and everything of other servers', () => {
    const unsigned = cross.key('self_signing', cross.selfSigning, false);
    const answer = {
      device_keys: { [MALLORY]: {} },
      master_keys: { [ALICE]: master, [MALLORY]: master },
      self_signing_keys: { [ALICE]: unsigned },
    };
    expect(checkRemoteQueryAnswer('remote.test', { [ALICE]: [], [MALLORY]: [] }, answer)).toEqual({
      device_keys: {},
      master_keys: { [ALICE]: master },
      self_signing_keys: {},
    });
    // A master key for another user, or without its usage, is no master key.
    const wrong = { ...master, usage: ['self_signing'] };
    expect(
      checkRemoteQueryAnswer(
        'remote.test',
        { [ALICE]: [] },
        { master_keys: { [ALICE]: wrong }, self_signing_keys: { [ALICE]: selfSigning } },
      ),
    ).toEqual({ device_keys: {}, master_keys: {}, self_signing_keys: {} });
    for (const garbage of [null, [], 'x', { device_keys: [] }] as JsonValue[]) {
      expect(checkRemoteQueryAnswer('remote.test', { [ALICE]: [] }, garbage)).toEqual({
        device_keys: {},
        master_keys: {},
        self_signing_keys: {},
      });
    }
  });
});

describe('checkRemoteClaimAnswer', () => {
  it('keeps one key of the algorithm asked per device asked, of the users asked', () => {
    const key = { key: 'abc', signatures: {} };
    const answer = {
      one_time_keys: {
        [ALICE]: {
          PHONE: { 'signed_curve25519:AAA': key },
          LAPTOP: { 'curve25519:BBB': 'xyz' },
          TABLET: { 'signed_curve25519:CCC': key },
        },
        [MALLORY]: { X: { 'signed_curve25519:DDD': key } },
      },
    };
    const asked = {
      [ALICE]: { PHONE: 'signed_curve25519', LAPTOP: 'signed_curve25519' },
      [MALLORY]: { X: 'signed_curve25519' },
    };
    expect(checkRemoteClaimAnswer('remote.test', asked, answer)).toEqual({
      [ALICE]: { PHONE: { 'signed_curve25519:AAA': key } },
    });
    expect(checkRemoteClaimAnswer('remote.test', asked, { one_time_keys: 5 })).toEqual({});
  });
});
