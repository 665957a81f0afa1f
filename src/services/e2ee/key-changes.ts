/**
 * `GET /keys/changes` (client-server API "Tracking the device list for a user"): the users whose
 * device list changed between two sync tokens and who share a room with the caller, and those
 * the caller stopped sharing every room with. The same computation as `/sync`'s
 * `device_lists` (docs/to-device.md), over the device-list stream between the two tokens.
 */
import { deviceListsSection, type DeviceListsDeps } from '../sync/device-lists-section.js';
import { decodeSyncToken } from '../sync/sync-token.js';

export interface KeyChanges {
  changed: string[];
  left: string[];
}

/** `from` and `to` are `/sync` tokens; anything else is 400 M_INVALID_PARAM. */
export async function keyChanges(
  deps: DeviceListsDeps,
  userId: string,
  from: string,
  to: string,
): Promise<KeyChanges> {
  const since = decodeSyncToken(from);
  const upTo = decodeSyncToken(to);
  return deviceListsSection(deps, userId, since, upTo);
}
