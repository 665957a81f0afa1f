import { describe, expect, it } from 'vitest';
import { isInternalPath, pathWithoutQuery } from './internal-paths.js';

describe('isInternalPath', () => {
  it('recognizes /_marina and everything under it, however spelled', () => {
    for (const target of [
      '/_marina',
      '/_marina/',
      '/_marina/controller/v1/placement?since=1',
      '/_MARINA/shard/v1/status',
      '/%5Fmarina/shard/v1/status',
      '/%5fmarina%2Fshard',
      '//_marina/x',
      '/_matrix/../_marina/x',
      '/./_marina/x',
      '/_matrix/%2E%2E/_marina/x',
      '\\_marina\\x',
    ]) {
      expect(isInternalPath(target), target).toBe(true);
    }
  });

  it('lets Matrix paths through', () => {
    for (const target of [
      '/_matrix/client/versions',
      '/_marinas/x',
      '/_matrix/client/v3/rooms/!a:b/state/m.room.name/_marina',
      '/?next=/_marina/x',
      '/%E0%A4%A',
    ]) {
      expect(isInternalPath(target), target).toBe(false);
    }
  });
});

describe('pathWithoutQuery', () => {
  it('drops the query string and fragment', () => {
    expect(pathWithoutQuery('/_matrix/client/v3/sync?access_token=secret')).toBe(
      '/_matrix/client/v3/sync',
    );
    expect(pathWithoutQuery('/a#b')).toBe('/a');
    expect(pathWithoutQuery('/a')).toBe('/a');
  });
});
