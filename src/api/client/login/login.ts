import { z } from 'zod';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';
import { sessionBody } from '../session-body.js';

/** `POST /login`: `m.login.password` or `m.login.token`, opening a session on a device. */
export const login = defineEndpoint({
  method: 'POST',
  paths: clientPaths('/login'),
  auth: 'none',
  body: z.looseObject({
    type: z.string(),
    device_id: z.string().optional(),
    initial_device_display_name: z.string().optional(),
    refresh_token: z.boolean().optional(),
  }),
  handler: async (ctx, req) => {
    const { body } = req;
    const session = await ctx.services.login.login(body, {
      deviceId: body.device_id,
      initialDeviceDisplayName: body.initial_device_display_name,
      refreshable: body.refresh_token === true,
      ip: req.clientIp,
    });
    return {
      ...sessionBody(session),
      home_server: ctx.serverName,
      well_known: { 'm.homeserver': { base_url: ctx.publicBaseUrl } },
    };
  },
});
