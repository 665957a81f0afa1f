import { expect } from 'vitest';
import { localhostFetch } from './localhost-fetch.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

/**
 * A user of one tenant of a `marina up`, reached through the router as a client would
 * (`http://<tenant>.localhost:PORT`), with the calls the federation proofs make.
 */
export class FederatedUser {
  #txn = 0;

  private constructor(
    readonly baseUrl: string,
    readonly userId: string,
    readonly token: string,
    readonly deviceId: string,
  ) {}

  /** Registers `name` on an open-registration tenant at `baseUrl`. */
  static async register(baseUrl: string, name: string): Promise<FederatedUser> {
    const response = await callJson(baseUrl, 'POST', `${V3}/register`, undefined, {
      username: name,
      password: `${name}-password-1`,
      auth: { type: 'm.login.dummy' },
      inhibit_login: false,
    });
    if (response.status !== 200) {
      throw new Error(`register ${name}: ${response.status} ${JSON.stringify(response.body)}`);
    }
    return new FederatedUser(
      baseUrl,
      response.body.user_id,
      response.body.access_token,
      response.body.device_id,
    );
  }

  call(method: string, path: string, body?: unknown) {
    return callJson(
      this.baseUrl,
      method,
      path.startsWith('/_') ? path : V3 + path,
      this.token,
      body,
    );
  }

  async ok(method: string, path: string, body?: unknown): Promise<Json> {
    const response = await this.call(method, path, body);
    expect(response, `${this.userId}: ${method} ${path}`).toMatchObject({ status: 200 });
    return response.body;
  }

  async createRoom(body: Record<string, unknown> = {}): Promise<string> {
    return (await this.ok('POST', '/createRoom', body)).room_id;
  }

  async invite(roomId: string, userId: string): Promise<void> {
    await this.ok('POST', `/rooms/${enc(roomId)}/invite`, { user_id: userId });
  }

  async join(roomIdOrAlias: string, via: readonly string[] = []): Promise<string> {
    const query = via.map((server) => `server_name=${enc(server)}`).join('&');
    return (await this.ok('POST', `/join/${enc(roomIdOrAlias)}${query ? `?${query}` : ''}`, {}))
      .room_id;
  }

  async send(roomId: string, body: string): Promise<string> {
    this.#txn += 1;
    return (
      await this.ok('PUT', `/rooms/${enc(roomId)}/send/m.room.message/t${this.#txn}`, {
        msgtype: 'm.text',
        body,
      })
    ).event_id;
  }

  async setState(roomId: string, type: string, content: unknown, stateKey = ''): Promise<string> {
    return (await this.ok('PUT', `/rooms/${enc(roomId)}/state/${type}/${enc(stateKey)}`, content))
      .event_id;
  }

  async state(roomId: string): Promise<Json[]> {
    return this.ok('GET', `/rooms/${enc(roomId)}/state`);
  }

  /** Every message body in the room, oldest first (paginating `/messages` backwards). */
  async messageBodies(roomId: string): Promise<string[]> {
    return (await this.messageEvents(roomId)).map((event) => event.content.body);
  }

  /** Every `m.room.message` event of the room, oldest first. */
  async messageEvents(roomId: string): Promise<Json[]> {
    const events: Json[] = [];
    let from: string | undefined;
    for (;;) {
      const page = await this.ok(
        'GET',
        `/rooms/${enc(roomId)}/messages?dir=b&limit=100${from ? `&from=${enc(from)}` : ''}`,
      );
      for (const event of page.chunk) {
        if (event.type === 'm.room.message') events.push(event);
      }
      if (!page.end || page.chunk.length === 0) break;
      from = page.end;
    }
    return events.reverse();
  }

  async sync(query = ''): Promise<Json> {
    return this.ok('GET', `/sync${query ? `?${query}` : ''}`);
  }
}

async function callJson(
  baseUrl: string,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await localhostFetch(baseUrl + path, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
