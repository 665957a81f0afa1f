import { z } from 'zod';
import type { JsonObject } from '../../../core/canonical-json.js';
import { defineEndpoint } from '../../endpoint.js';

const jsonObject = z.record(z.string(), z.unknown()).transform((value) => value as JsonObject);

/**
 * `PUT /_matrix/federation/v1/send/{txnId}`: a transaction of PDUs and EDUs from another server
 * (at most 50 and 100, else 400 M_BAD_JSON). Idempotent per origin and transaction ID; answers
 * how each PDU was handled.
 */
export const sendTransaction = defineEndpoint({
  method: 'PUT',
  paths: ['/_matrix/federation/v1/send/:txnId'],
  auth: 'server',
  params: z.object({ txnId: z.string().min(1) }),
  body: z.object({
    origin: z.string().optional(),
    origin_server_ts: z.number().int().optional(),
    pdus: z.array(jsonObject),
    edus: z.array(jsonObject).optional(),
  }),
  handler: async (ctx, req) =>
    ctx.services.federation.inbound.transactions.receive(req.auth.origin, req.params.txnId, {
      pdus: req.body.pdus,
      edus: req.body.edus ?? [],
    }),
});
