import { Agent } from 'node:http';
import type { Socket } from 'node:net';

/**
 * One keep-alive connection pool per shard, so requests reuse connections instead of paying a
 * TCP handshake each. A shard that leaves the placement keeps its in-flight requests (a `/sync`
 * long-poll runs to its end) but its connections close as they come free.
 */
export class ShardAgents {
  private readonly agents = new Map<string, Agent>();

  /** The pool for a shard's traffic origin (`http://127.0.0.1:PORT`). */
  agentFor(origin: string): Agent {
    let agent = this.agents.get(origin);
    if (!agent) {
      agent = new Agent({ keepAlive: true, scheduling: 'lifo' });
      this.agents.set(origin, agent);
    }
    return agent;
  }

  /** Retires the pools of shards that are not in `origins`. */
  keepOnly(origins: ReadonlySet<string>): void {
    for (const [origin, agent] of this.agents) {
      if (origins.has(origin)) continue;
      this.agents.delete(origin);
      retire(agent);
    }
  }

  /** Closes every connection, in use or not (the router is stopping). */
  destroy(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}

function retire(agent: Agent): void {
  for (const sockets of Object.values(agent.freeSockets)) {
    for (const socket of sockets ?? []) socket.destroy();
  }
  // The agent's own listener has pooled the socket by now; closing it takes it out again.
  agent.on('free', (socket: Socket) => socket.destroy());
}
