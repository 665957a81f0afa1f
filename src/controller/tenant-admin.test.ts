import { describe, expect, it } from 'vitest';
import { MatrixError } from '../core/errors.js';
import { parseNewTenant } from './tenant-admin.js';

function errcodeOf(body: unknown): string | undefined {
  try {
    parseNewTenant(body);
    return undefined;
  } catch (error) {
    return error instanceof MatrixError ? error.errcode : 'not a MatrixError';
  }
}

describe('parseNewTenant', () => {
  it('reads a server name, lower-cased host names without duplicates, and a mode', () => {
    expect(
      parseNewTenant({
        server_name: 'alpha.example',
        hostnames: ['Chat.Example', 'chat.example', '127.0.0.1'],
        registration: 'open',
      }),
    ).toEqual({
      serverName: 'alpha.example',
      hostnames: ['chat.example', '127.0.0.1'],
      registration: 'open',
    });
    expect(parseNewTenant({ server_name: 'localhost:8448' })).toEqual({
      serverName: 'localhost:8448',
      hostnames: undefined,
      registration: undefined,
    });
  });

  it('answers bad input with the Matrix error that names it', () => {
    expect(errcodeOf('alpha.example')).toBe('M_BAD_JSON');
    expect(errcodeOf({})).toBe('M_MISSING_PARAM');
    expect(errcodeOf({ server_name: 7 })).toBe('M_BAD_JSON');
    expect(errcodeOf({ server_name: 'not a name' })).toBe('M_INVALID_PARAM');
    expect(errcodeOf({ server_name: 'a.example', hostnames: ['b.example:8008'] })).toBe(
      'M_INVALID_PARAM',
    );
    expect(errcodeOf({ server_name: 'a.example', hostnames: ['bad host'] })).toBe(
      'M_INVALID_PARAM',
    );
    expect(errcodeOf({ server_name: 'a.example', registration: 'sometimes' })).toBe(
      'M_INVALID_PARAM',
    );
  });
});
