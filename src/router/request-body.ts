/**
 * A client's request body as the router sends it to shards. The first time it streams from the
 * client (with back-pressure); meanwhile the router keeps a copy while it fits in
 * `REPLAYABLE_BODY_BYTES`, so a request a shard did not serve (`X-Marina-Not-Served`: its tenant
 * has just left) can be sent again to the tenant's new shard. A larger body is not copied.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';

/** The largest body the router keeps a copy of, to replay its request. */
export const REPLAYABLE_BODY_BYTES = 64 * 1024;

export class RequestBody {
  /** The copy so far; undefined once the body outgrew the limit. */
  #copy: Buffer[] | undefined = [];
  #copied = 0;
  #ended = false;
  #streamed = false;

  constructor(
    private readonly req: IncomingMessage,
    private readonly limit = REPLAYABLE_BODY_BYTES,
  ) {}

  /** The router holds the whole body (or there was none): its request can be sent again. */
  get replayable(): boolean {
    return this.#ended && this.#copy !== undefined;
  }

  /** Sends the body: streamed from the client the first time, from the copy afterwards. */
  sendTo(upstream: ClientRequest): void {
    if (this.#streamed) {
      if (!this.replayable) throw new Error('the request body is not held: it cannot be resent');
      upstream.end(Buffer.concat(this.#copy as Buffer[]));
      return;
    }
    this.#streamed = true;
    this.req.on('data', (chunk: Buffer) => this.#keep(chunk));
    this.req.once('end', () => (this.#ended = true));
    this.req.pipe(upstream);
  }

  #keep(chunk: Buffer): void {
    if (this.#copy === undefined) return;
    this.#copied += chunk.length;
    if (this.#copied > this.limit) this.#copy = undefined;
    else this.#copy.push(chunk);
  }
}
