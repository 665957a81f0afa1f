/**
 * What this server's users do outside room events, told to the other servers that need it:
 * typing (`m.typing`, not persisted: ephemeral), public read receipts (`m.receipt`), presence
 * (`m.presence`, to the servers sharing a room with the user), device-list and cross-signing
 * changes (`m.device_list_update`, `m.signing_key_update`) and to-device messages for their users
 * (`m.direct_to_device`). Only changes of local users go out: those of other servers' users are
 * their servers' to send.
 */
import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../../core/canonical-json.js';
import { selectDevices } from '../../storage/accounts/devices.js';
import { selectCrossSigningKeys } from '../../storage/e2ee/cross-signing-keys.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import type { DeviceLists } from '../devices/device-lists.js';
import type { ToDevice } from '../devices/to-device.js';
import type { Presence } from '../ephemeral/presence.js';
import type { Receipts } from '../ephemeral/receipts.js';
import type { Typing } from '../ephemeral/typing.js';
import { serverOfUser, serversInRoom } from './event-fanout.js';
import type { OutboundQueue } from './outbound-queue.js';

export interface OutboundEduSources {
  readonly typing: Pick<Typing, 'changed'>;
  readonly receipts: Pick<Receipts, 'changed'>;
  readonly presence: Pick<Presence, 'changed' | 'getPresence'>;
  readonly deviceLists: Pick<DeviceLists, 'changed'>;
  readonly toDevice: Pick<ToDevice, 'remoteSent'>;
}

/** Subscribes to the local changes federation sends on; returns the disconnect. */
export function connectOutboundEdus(deps: {
  serverName: string;
  db: TenantDatabase;
  outbound: Pick<OutboundQueue, 'enqueueEdu' | 'sendEphemeralEdu'>;
  sources: OutboundEduSources;
}): () => void {
  const { serverName, db, outbound, sources } = deps;
  const isLocal = (userId: string) => serverOfUser(userId) === serverName;
  const others = (servers: Iterable<string>) => [...servers].filter((s) => s !== serverName);

  const disconnects = [
    sources.typing.changed.add(async (change) => {
      if (change.userId === undefined || change.typing === undefined) return;
      if (!isLocal(change.userId)) return;
      const destinations = others(await serversInRoom(db, change.roomId));
      if (destinations.length === 0) return;
      outbound.sendEphemeralEdu(destinations, 'm.typing', {
        room_id: change.roomId,
        user_id: change.userId,
        typing: change.typing,
      });
    }),

    sources.receipts.changed.add(async (change) => {
      // Private receipts never leave the server.
      if (change.private || change.receiptType !== 'm.read' || change.eventId === undefined) return;
      if (!isLocal(change.userId)) return;
      const destinations = others(await serversInRoom(db, change.roomId));
      if (destinations.length === 0) return;
      const receipt = { event_ids: [change.eventId], data: (change.data ?? {}) as JsonObject };
      await outbound.enqueueEdu(destinations, 'm.receipt', {
        [change.roomId]: { 'm.read': { [change.userId]: receipt } },
      });
    }),

    sources.presence.changed.add(async (change) => {
      if (!isLocal(change.userId)) return;
      const destinations = new Set<string>();
      for (const userId of change.audience) {
        const server = serverOfUser(userId);
        if (server !== undefined && server !== serverName) destinations.add(server);
      }
      if (destinations.size === 0) return;
      const status = await sources.presence.getPresence(change.userId, change.userId);
      const push: JsonObject = {
        user_id: change.userId,
        presence: status.presence,
        last_active_ago: status.last_active_ago ?? 0,
        currently_active: status.currently_active ?? false,
      };
      if (status.status_msg !== undefined) push['status_msg'] = status.status_msg;
      await outbound.enqueueEdu(destinations, 'm.presence', { push: [push] });
    }),

    sources.deviceLists.changed.add(async (change) => {
      if (!isLocal(change.userId)) return;
      const destinations = new Set<string>();
      for (const roomId of change.roomIds) {
        for (const server of await serversInRoom(db, roomId)) destinations.add(server);
      }
      destinations.delete(serverName);
      if (destinations.size === 0) return;
      const { devices, crossSigning } = await db.read(async (d) => ({
        devices: await selectDevices(d, change.userId),
        crossSigning: await selectCrossSigningKeys(d, [change.userId], ['master', 'self_signing']),
      }));
      // Which device changed is not recorded: the update names one device and a `prev_id` the
      // receiver never saw (odd IDs are sent, even ones never), so that it re-fetches the whole
      // list through `/user/devices` rather than trusting this update alone.
      await outbound.enqueueEdu(destinations, 'm.device_list_update', {
        user_id: change.userId,
        device_id: devices[0]?.device_id ?? '',
        stream_id: change.position * 2 + 1,
        prev_id: [change.position * 2],
        deleted: false,
      });
      if (crossSigning.length > 0) {
        const update: JsonObject = { user_id: change.userId };
        for (const key of crossSigning) {
          update[key.usage === 'master' ? 'master_key' : 'self_signing_key'] = JSON.parse(
            key.keyJson,
          ) as JsonObject;
        }
        await outbound.enqueueEdu(destinations, 'm.signing_key_update', update);
      }
    }),

    sources.toDevice.remoteSent.add(async (sent) => {
      for (const [server, messages] of sent.byServer) {
        await outbound.enqueueEdu(server, 'm.direct_to_device', {
          sender: sent.sender,
          type: sent.type,
          message_id: randomBytes(12).toString('base64url'),
          messages: messages as JsonObject,
        });
      }
    }),
  ];
  return () => {
    for (const disconnect of disconnects) disconnect();
  };
}
