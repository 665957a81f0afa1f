import { expect } from 'vitest';
import type { AccountServer, Json, Response } from './account-server.js';

export const V3 = '/_matrix/client/v3';
export const enc = encodeURIComponent;

/** A registered user of an `AccountServer` and the room calls tests make as them. */
export class RoomUser {
  #txn = 0;

  constructor(
    readonly server: AccountServer,
    readonly userId: string,
    readonly token: string,
    readonly deviceId: string,
  ) {}

  call(method: string, path: string, body?: unknown): Promise<Response> {
    return this.server.call(method, path.startsWith('/_') ? path : V3 + path, {
      token: this.token,
      ...(body === undefined ? {} : { body }),
    });
  }

  /** Calls and expects a 200; returns the body. */
  async ok(method: string, path: string, body?: unknown): Promise<Json> {
    const response = await this.call(method, path, body);
    expect(response, `${method} ${path}`).toMatchObject({ status: 200 });
    return response.body;
  }

  async createRoom(body: Record<string, unknown> = {}): Promise<string> {
    return (await this.ok('POST', '/createRoom', body)).room_id as string;
  }

  async send(roomId: string, body: string, extra: Record<string, unknown> = {}): Promise<string> {
    return (
      await this.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/${this.nextTxn()}`, {
        msgtype: 'm.text',
        body,
        ...extra,
      })
    ).event_id as string;
  }

  async setState(
    roomId: string,
    type: string,
    content: Record<string, unknown>,
    stateKey = '',
  ): Promise<string> {
    return (await this.ok('PUT', `/rooms/${enc(roomId)}/state/${type}/${enc(stateKey)}`, content))
      .event_id as string;
  }

  async join(roomIdOrAlias: string): Promise<void> {
    await this.ok('POST', `/join/${enc(roomIdOrAlias)}`, {});
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.ok('POST', `/rooms/${enc(roomId)}/invite`, { user_id: userId });
  }

  async leave(roomId: string): Promise<void> {
    await this.ok('POST', `/rooms/${enc(roomId)}/leave`, {});
  }

  /** `/messages` as a list of `[type, body or state key]` pairs, for exact comparisons. */
  async messages(roomId: string, query: string): Promise<Json> {
    return this.ok('GET', `/rooms/${enc(roomId)}/messages?${query}`);
  }

  nextTxn(): string {
    this.#txn += 1;
    return `txn-${this.#txn}`;
  }
}

/** Registers users (shared-secret registration) and returns their clients, in order. */
export async function createRoomUsers<const N extends readonly string[]>(
  server: AccountServer,
  names: N,
): Promise<{ -readonly [K in keyof N]: RoomUser }> {
  const users: RoomUser[] = [];
  for (const name of names) {
    const created = await server.createUser(name, `${name}-password`);
    users.push(new RoomUser(server, created.userId, created.accessToken, created.deviceId));
  }
  return users as { -readonly [K in keyof N]: RoomUser };
}

/** A short description of events: the message body, or `type state_key` for state events. */
export function summarize(events: Json[]): string[] {
  return events.map((event) =>
    event.state_key !== undefined
      ? `${event.type} ${event.state_key}`.trimEnd()
      : String(event.content?.body ?? event.type),
  );
}
