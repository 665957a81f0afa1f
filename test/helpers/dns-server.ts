/**
 * A tiny authoritative DNS server on loopback UDP for discovery tests: answers A, AAAA and SRV
 * questions from a table (unknown name: NXDOMAIN; known name without that type: no answers),
 * and records every question it was asked.
 */

import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import * as dnsPacket from 'dns-packet';

export interface DnsRecords {
  A?: string[];
  AAAA?: string[];
  SRV?: { target: string; port: number; priority?: number; weight?: number }[];
}

export class TestDnsServer {
  readonly questions: string[] = [];

  private constructor(
    private readonly socket: Socket,
    readonly records: Map<string, DnsRecords>,
  ) {}

  static async start(records: Record<string, DnsRecords> = {}): Promise<TestDnsServer> {
    const socket = createSocket('udp4');
    const server = new TestDnsServer(socket, new Map(Object.entries(records)));
    socket.on('message', (message, peer) => {
      const reply = server.answer(message);
      if (reply) socket.send(reply, peer.port, peer.address);
    });
    socket.bind(0, '127.0.0.1');
    await once(socket, 'listening');
    return server;
  }

  /** `127.0.0.1:PORT`, as `Resolver.setServers` takes it. */
  get address(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }

  set(name: string, records: DnsRecords): void {
    this.records.set(name, records);
  }

  async stop(): Promise<void> {
    this.socket.close();
    await once(this.socket, 'close');
  }

  private answer(message: Buffer): Buffer | undefined {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return undefined;
    }
    const question = query.questions?.[0];
    if (!question) return undefined;
    this.questions.push(`${question.type} ${question.name}`);
    const known = this.records.get(question.name.toLowerCase());
    const answers: dnsPacket.Answer[] = [];
    if (known && question.type === 'A') {
      for (const data of known.A ?? []) answers.push({ type: 'A', name: question.name, data });
    } else if (known && question.type === 'AAAA') {
      for (const data of known.AAAA ?? [])
        answers.push({ type: 'AAAA', name: question.name, data });
    } else if (known && question.type === 'SRV') {
      for (const srv of known.SRV ?? []) {
        answers.push({
          type: 'SRV',
          name: question.name,
          data: {
            target: srv.target,
            port: srv.port,
            priority: srv.priority ?? 10,
            weight: srv.weight ?? 0,
          },
        });
      }
    }
    return dnsPacket.encode({
      type: 'response',
      id: query.id,
      // Authoritative answer; rcode NXDOMAIN (3) for names it does not know.
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (known ? 0 : 3),
      questions: [question],
      answers,
    });
  }
}
