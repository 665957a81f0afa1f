/**
 * Checks who sent an inbound federation request: its X-Matrix `Authorization` header must be
 * addressed to this tenant (or name no destination, as older servers do), and its signature must
 * verify with a current key of the origin. Anything else is 401 M_UNAUTHORIZED.
 */

import type { Clock } from '../../core/clock.js';
import type { JsonValue } from '../../core/canonical-json.js';
import { unauthorized } from '../../core/errors.js';
import { isValidServerName } from '../../core/identifiers.js';
import { parseXMatrixHeader, verifyXMatrix } from '../../protocol/x-matrix.js';
import type { RemoteKeys, ServerAuth } from './federation-contracts.js';

/** An inbound request as the HTTP layer hands it over. */
export interface InboundRequest {
  readonly method: string;
  /** The request target: path and query, as received. */
  readonly uri: string;
  readonly authorization: string | undefined;
  /** The parsed JSON body, if it has one. */
  readonly content: JsonValue | undefined;
}

export class RequestAuthenticator {
  constructor(
    private readonly serverName: string,
    private readonly remoteKeys: RemoteKeys,
    private readonly clock: Clock,
  ) {}

  async authenticate(request: InboundRequest): Promise<ServerAuth> {
    if (request.authorization === undefined) {
      throw unauthorized('This endpoint needs an X-Matrix Authorization header');
    }
    const parsed = parseXMatrixHeader(request.authorization);
    if (parsed === undefined) {
      throw unauthorized('The Authorization header is not a valid X-Matrix header');
    }
    if (!isValidServerName(parsed.origin)) {
      throw unauthorized(`The origin ${parsed.origin} is not a valid server name`);
    }
    if (parsed.destination !== undefined && parsed.destination !== this.serverName) {
      throw unauthorized(
        `The request is addressed to ${parsed.destination}, not to ${this.serverName}`,
      );
    }
    if (parsed.origin === this.serverName) {
      throw unauthorized('A server does not send federation requests to itself');
    }
    const publicKey = await this.remoteKeys.verifyKey(parsed.origin, parsed.key, this.clock.now());
    if (publicKey === undefined) {
      throw unauthorized(
        `Cannot get the key ${parsed.key} of ${parsed.origin} to check the request`,
      );
    }
    const valid = verifyXMatrix(
      {
        method: request.method,
        uri: request.uri,
        origin: parsed.origin,
        destination: this.serverName,
        ...(request.content !== undefined ? { content: request.content } : {}),
      },
      parsed,
      publicKey,
    );
    if (!valid) throw unauthorized(`The request's signature by ${parsed.origin} does not verify`);
    return { origin: parsed.origin };
  }
}
