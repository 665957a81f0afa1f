/**
 * Feeds the notifier the two device streams of a sync token: to-device messages wake their
 * recipients' syncs; a device-list change wakes the syncs of the users who share a room with
 * its user (through the rooms it is joined to) and of the user themselves.
 */
import type { DeviceLists } from '../devices/device-lists.js';
import type { ToDevice } from '../devices/to-device.js';
import type { Notifier } from './notifier.js';

export interface DeviceStreamSources {
  readonly toDevice: Pick<ToDevice, 'sent'>;
  readonly deviceLists: Pick<DeviceLists, 'changed'>;
}

/** Subscribes the notifier to the device streams; returns the function that unsubscribes. */
export function connectDeviceStreams(notifier: Notifier, sources: DeviceStreamSources): () => void {
  const unsubscribes = [
    sources.toDevice.sent.add((sent) => {
      notifier.notify({ stream: 'to_device', position: sent.position, userIds: sent.userIds });
    }),
    sources.deviceLists.changed.add((change) => {
      notifier.notify({
        stream: 'device_lists',
        position: change.position,
        roomIds: change.roomIds,
        userIds: [change.userId],
      });
    }),
  ];
  return () => {
    for (const unsubscribe of unsubscribes) unsubscribe();
  };
}
