import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MatrixClient } from 'matrix-js-sdk';
import { AccountServer } from '../helpers/account-server.js';
import {
  exchangeMessages,
  scrollbackAndRejoin,
  startSyncedClient,
} from '../helpers/sync-scenario.js';

/** The client's fetch: every request goes to the test server, push rules included. */
function fetchFor(server: AccountServer): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const target = new URL(url.pathname + url.search, server.url);
    return fetch(target, init);
  };
}

// Two real clients syncing against the real server (the scenario: test/helpers/sync-scenario.ts).
describe('matrix-js-sdk 37.5: sync', () => {
  let server: AccountServer;
  let alice: MatrixClient;
  let bob: MatrixClient;
  beforeAll(async () => {
    server = await AccountServer.start();
    const start = async (name: string) =>
      startSyncedClient(
        'http://alpha.test',
        fetchFor(server),
        await server.createUser(name, `${name}-password`),
      );
    alice = await start('alice');
    bob = await start('bob');
  });
  afterAll(async () => {
    alice?.stopClient();
    bob?.stopClient();
    await server?.stop();
  });

  it('two clients exchange messages, each timeline holding exactly the events in order', async () => {
    // The scenario knows the users by the IDs the server gave their clients.
    expect([alice.getUserId(), bob.getUserId()]).toEqual(['@alice:alpha.test', '@bob:alpha.test']);
    await exchangeMessages(alice, bob);
  });

  it('back-paginates with scrollback, and a left then rejoined room syncs again', async () => {
    await scrollbackAndRejoin(alice, bob);
  });
});
