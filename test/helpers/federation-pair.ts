import { AccountServer } from './account-server.js';

/**
 * Real tenants in this process, each behind its own HTTP app on a real socket, that federate
 * with each other over plain HTTP (`federation_plain_http` lists every other one): signed
 * requests, key fetches and all. Names default to `alpha.test` and `beta.test`.
 */
export interface FederationPeers {
  readonly servers: readonly AccountServer[];
  stop(): Promise<void>;
}

export async function startFederationPeers(
  names: readonly string[] = ['alpha.test', 'beta.test'],
): Promise<FederationPeers> {
  const servers: AccountServer[] = [];
  try {
    for (const name of names) {
      servers.push(await AccountServer.start({ server_name: name, hostnames: [name] }));
    }
    const addresses = Object.fromEntries(
      servers.map((server, index) => [names[index] as string, new URL(server.url).host]),
    );
    for (const [index, server] of servers.entries()) {
      const others = Object.entries(addresses).filter(([name]) => name !== names[index]);
      server.config = { ...server.config, federation_plain_http: Object.fromEntries(others) };
      await server.restart();
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop()));
    throw error;
  }
  return {
    servers,
    stop: async () => {
      await Promise.all(servers.map((server) => server.stop()));
    },
  };
}

/** Two peers, `alpha.test` and `beta.test`. */
export async function startFederationPair(): Promise<{
  alpha: AccountServer;
  beta: AccountServer;
  stop(): Promise<void>;
}> {
  const peers = await startFederationPeers();
  const [alpha, beta] = peers.servers as [AccountServer, AccountServer];
  return { alpha, beta, stop: peers.stop };
}
