import { defineEndpoint } from '../../endpoint.js';
import { clientV1Paths } from '../paths.js';
import { mediaPaths } from './media-params.js';

/** `GET /_matrix/client/v1/media/config` (and the deprecated `/_matrix/media/v3/config`). */
export const getMediaConfig = defineEndpoint({
  method: 'GET',
  paths: [...clientV1Paths('/media/config'), ...mediaPaths('/config')],
  auth: 'user',
  handler: async (ctx) => ({ 'm.upload.size': ctx.services.media.settings.maxUploadBytes }),
});
