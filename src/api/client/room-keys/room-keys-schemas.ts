/**
 * Input shapes shared by the `room_keys` endpoints (spec: "Server-side key backups"). Sizes of
 * the opaque `auth_data` and `session_data` are bounded by the key backup service.
 */
import { z } from 'zod';
import type { JsonObject } from '../../../core/canonical-json.js';
import { roomIdParam } from '../user-params.js';

/** Session IDs are unpadded base64 public keys (43 characters); this leaves ample room. */
const MAX_SESSION_ID_LENGTH = 255;
const MAX_ALGORITHM_LENGTH = 255;

const jsonObject = z.record(z.string(), z.unknown()).transform((value) => value as JsonObject);
const counter = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const sessionIdParam = z.string().min(1).max(MAX_SESSION_ID_LENGTH);

/** `{version}` in a path: opaque to clients; a version the server never made is 404. */
export const versionParams = z.object({ version: z.string() });

/** `?version=`, required by every `room_keys/keys` endpoint. */
export const versionQuery = z.object({ version: z.string() });

export const roomParams = z.object({ roomId: roomIdParam });
export const sessionParams = z.object({ roomId: roomIdParam, sessionId: sessionIdParam });

/** The body of `POST /room_keys/version` and (with `version`) `PUT /room_keys/version/{version}`. */
export const backupVersionBody = z.object({
  algorithm: z.string().min(1).max(MAX_ALGORITHM_LENGTH),
  auth_data: jsonObject,
});

/** The spec's `KeyBackupData`: one session key, encrypted by the client. */
export const keyBackupData = z.object({
  first_message_index: counter,
  forwarded_count: counter,
  is_verified: z.boolean(),
  session_data: jsonObject,
});

/** The spec's `RoomKeyBackup`: `{sessions: {sessionId: KeyBackupData}}`. */
export const roomKeyBackup = z.object({
  sessions: z.record(sessionIdParam, keyBackupData),
});

/** The body of `PUT /room_keys/keys`: `{rooms: {roomId: RoomKeyBackup}}`. */
export const allRoomKeysBody = z.object({
  rooms: z.record(roomIdParam, roomKeyBackup),
});
