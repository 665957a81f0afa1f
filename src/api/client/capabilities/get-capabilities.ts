import { DEFAULT_ROOM_VERSION, availableRoomVersions } from '../../../protocol/room-versions.js';
import { PROFILE_FIELDS } from '../../../services/profiles/profiles.js';
import { defineEndpoint } from '../../endpoint.js';
import { clientPaths } from '../paths.js';

/** `GET /capabilities`: what this server lets the caller do. */
export const getCapabilities = defineEndpoint({
  method: 'GET',
  paths: clientPaths('/capabilities'),
  auth: 'user',
  allowGuests: true,
  handler: async () => ({
    capabilities: {
      'm.room_versions': { default: DEFAULT_ROOM_VERSION, available: availableRoomVersions() },
      'm.change_password': { enabled: true },
      'm.set_displayname': { enabled: true },
      'm.set_avatar_url': { enabled: true },
      'm.3pid_changes': { enabled: false },
      'm.get_login_token': { enabled: true },
      // Only these two are stored; clients should not offer other fields (m.tz, custom keys).
      'm.profile_fields': { enabled: true, allowed: [...PROFILE_FIELDS] },
    },
  }),
});
