import { pino } from 'pino';
import { generateSigningKey } from '../../src/protocol/signing-key.js';
import { createRoomServices, type RoomServices } from '../../src/services/rooms/room-services.js';
import { ServerKeys } from '../../src/services/server-keys/server-keys.js';
import { openAccountServices, type TestAccountServices } from './account-services.js';

export interface TestRoomServices extends TestAccountServices {
  rooms: RoomServices;
  serverKeys: ServerKeys;
  /** Registers a local user (no password) and returns its user ID. */
  createUser(localpart: string): Promise<string>;
}

/**
 * One tenant's account and room services over a fresh database of the dialect under test
 * (storage tests), wired as `startHomeserver` wires them.
 */
export async function openRoomServices(): Promise<TestRoomServices> {
  const accounts = await openAccountServices();
  const serverKeys = new ServerKeys(
    accounts.config.server_name,
    generateSigningKey(),
    [],
    accounts.clock,
  );
  const rooms = createRoomServices({
    serverName: accounts.config.server_name,
    db: accounts.db,
    clock: accounts.clock,
    logger: pino({ level: 'silent' }),
    serverKeys,
    accounts: accounts.services,
  });
  return {
    ...accounts,
    rooms,
    serverKeys,
    createUser: async (localpart) => {
      const created = await accounts.services.registration.createAccount({
        localpart,
        isAdmin: false,
        isGuest: false,
      });
      return created.userId;
    },
  };
}
