/**
 * The tenant database schema as kysely sees it: one interface per table, kept in step with
 * `migrations/`. Migrations themselves use an untyped `Kysely<unknown>` because they describe
 * the schema at their own point in history, not this one.
 */

/** Facts about the database itself, e.g. `server_name`: which tenant owns it. */
export interface TenantMetaTable {
  key: string;
  value: string;
}

/** Per-tenant counters: `stream_ordering` (the events stream) and `state_group` IDs. */
export interface SequencesTable {
  name: string;
  last_value: number;
}

export interface RoomsTable {
  room_id: string;
  room_version: string;
}

/** Every stored PDU, accepted, rejected, soft-failed or outlier. */
export interface EventsTable {
  event_id: string;
  room_id: string;
  type: string;
  /** Null for message events. */
  state_key: string | null;
  sender: string;
  depth: number;
  origin_server_ts: number;
  /** Position in the tenant's event stream, assigned when the event is stored. */
  stream_ordering: number;
  /** 1: stored without state (fetched for auth chains, invites, …); not part of the known DAG. */
  outlier: number;
  /** 1: passed auth at its own state but not against the room's current state. */
  soft_failed: number;
  /** Why auth rejected it; null when accepted. Rejected events never become state. */
  rejected_reason: string | null;
  /** The PDU as JSON text, federation form. */
  pdu: string;
}

export interface EventPrevEventsTable {
  event_id: string;
  prev_event_id: string;
}

export interface EventAuthEventsTable {
  event_id: string;
  auth_event_id: string;
}

export interface EventForwardExtremitiesTable {
  room_id: string;
  event_id: string;
}

export interface StateGroupsTable {
  state_group: number;
  room_id: string;
  /** Null for a snapshot; otherwise this group's entries are a delta against that group. */
  prev_state_group: number | null;
  /** Deltas between this group and the snapshot at the root of its chain (0 for a snapshot). */
  chain_length: number;
  /** Entry rows stored by those deltas, this group's included. */
  delta_rows: number;
  /** Entry rows of the snapshot at the root of the chain. */
  snapshot_rows: number;
}

export interface StateGroupEntriesTable {
  state_group: number;
  type: string;
  state_key: string;
  /** Null in a delta: the key is removed from the state. */
  event_id: string | null;
}

export interface EventToStateGroupTable {
  event_id: string;
  /** The room state after the event. */
  state_group: number;
  /**
   * For an accepted state event: the event its (type, state_key) held in the state before it, or
   * null if none; the state before is the state after with that entry put back. Null otherwise.
   */
  replaces_state: string | null;
}

/** A local account. Flags are 0/1. */
export interface UsersTable {
  user_id: string;
  /** PHC-style scrypt hash; null when the account has no password. */
  password_hash: string | null;
  is_admin: number;
  is_guest: number;
  deactivated: number;
  created_ts: number;
}

export interface ProfilesTable {
  user_id: string;
  displayname: string | null;
  avatar_url: string | null;
}

export interface DevicesTable {
  user_id: string;
  device_id: string;
  display_name: string | null;
  last_seen_ts: number | null;
  last_seen_ip: string | null;
  created_ts: number;
}

/** Access tokens by SHA-256 hash (hex); the token itself is never stored. */
export interface AccessTokensTable {
  token_hash: string;
  user_id: string;
  device_id: string;
  created_ts: number;
  /** Null: never expires. */
  expires_ts: number | null;
  /** The refresh token of this session, when it has one. */
  refresh_token_id: string | null;
}

export interface RefreshTokensTable {
  id: string;
  token_hash: string;
  user_id: string;
  device_id: string;
  /** The token issued when this one was used, until that one is used in turn. */
  next_token_id: string | null;
  created_ts: number;
}

/** Single-use `m.login.token` tokens, by hash. */
export interface LoginTokensTable {
  token_hash: string;
  user_id: string;
  created_ts: number;
  expires_ts: number;
}

/** User-interactive auth sessions. */
export interface UiaSessionsTable {
  session_id: string;
  /** What the session authorises, e.g. `POST /account/password`. */
  action: string;
  user_id: string | null;
  /** JSON array of completed stage types. */
  completed: string;
  /** A registration token held as `pending` by this session. */
  registration_token: string | null;
  created_ts: number;
}

export interface RegistrationTokensTable {
  token: string;
  uses_allowed: number | null;
  pending: number;
  completed: number;
  expiry_time: number | null;
}

export interface AccountDataTable {
  user_id: string;
  /** '' for global account data. */
  room_id: string;
  type: string;
  /** The content as JSON text. */
  content: string;
  /** Position in the tenant's account data stream (the `account_data` sequence). */
  stream_id: number;
}

export interface FiltersTable {
  user_id: string;
  filter_id: string;
  /** The filter as canonical JSON. */
  filter_json: string;
}

/** The current membership of a user in a room (the member event the room state holds). */
export interface RoomMembershipsTable {
  room_id: string;
  user_id: string;
  /** `join`, `invite`, `knock`, `leave` or `ban`. */
  membership: string;
  event_id: string;
  stream_ordering: number;
  sender: string;
  /** From the member event's content, for `/joined_members`. */
  displayname: string | null;
  avatar_url: string | null;
  /** Stream position of the user's latest join in the room; null if they never joined. */
  last_join_stream_ordering: number | null;
}

/** The event a client's transaction ID produced, per device and endpoint (idempotent sends). */
export interface EventTxnIdsTable {
  user_id: string;
  device_id: string;
  /** The endpoint path without the transaction ID, e.g. `/rooms/!r:s/send/m.room.message`. */
  scope: string;
  txn_id: string;
  event_id: string;
  room_id: string;
}

export interface RoomAliasesTable {
  room_alias: string;
  room_id: string;
  /** The user who created the alias (who may delete it). */
  creator: string;
}

/** A room's visibility in the published room directory. */
export interface RoomDirectoryTable {
  room_id: string;
  visibility: 'public' | 'private';
}

export interface ForgottenRoomsTable {
  user_id: string;
  room_id: string;
}

/** An accepted redaction event and the event it redacts. */
export interface RedactionsTable {
  /** The `m.room.redaction` event. */
  event_id: string;
  redacts: string;
  room_id: string;
}

/** One receipt per (room, type, user, thread). */
export interface ReceiptsTable {
  room_id: string;
  /** `m.read` or `m.read.private`. */
  receipt_type: string;
  user_id: string;
  /** '' for an unthreaded receipt; `main` or a thread root's event ID otherwise. */
  thread_id: string;
  event_id: string;
  /** The receipt as JSON text, as clients get it under the user ID (`ts`, `thread_id`). */
  data: string;
  /** Position in the tenant's receipts stream (the `receipts` sequence). */
  stream_id: number;
}

export interface PresenceTable {
  user_id: string;
  /** `online`, `unavailable` or `offline`. */
  presence: string;
  status_msg: string | null;
  last_active_ts: number;
  /** 0/1. */
  currently_active: number;
  /** Position in the tenant's presence stream (the `presence` sequence). */
  stream_id: number;
}

/** A to-device message waiting for its target device (deleted once a sync acknowledges it). */
export interface ToDeviceInboxTable {
  /** The recipient. */
  user_id: string;
  device_id: string;
  /** Position in the tenant's to-device stream (the `to_device` sequence); one per send. */
  stream_id: number;
  sender: string;
  type: string;
  /** The content as JSON text. */
  content: string;
}

/** Transaction IDs of `/sendToDevice`, per sending device and path (idempotent retries). */
export interface ToDeviceTxnIdsTable {
  user_id: string;
  device_id: string;
  /** The path without the transaction ID: `/sendToDevice/{eventType}`. */
  scope: string;
  txn_id: string;
  created_ts: number;
}

/** A change of a user's device list, at its position in the `device_lists` sequence. */
export interface DeviceListChangesTable {
  stream_id: number;
  user_id: string;
}

/** A user's own push rule. */
export interface PushRulesTable {
  user_id: string;
  /** `override`, `content`, `room`, `sender` or `underride`. */
  kind: string;
  rule_id: string;
  /** Order among the user's rules of the kind, 0 first (most important). */
  position: number;
  /** JSON array; null for content, room and sender rules. */
  conditions: string | null;
  /** Content rules only. */
  pattern: string | null;
  /** JSON array. */
  actions: string;
  /** 0/1. */
  enabled: number;
}

/** A user's change to a server-default push rule; null keeps the default. */
export interface PushRuleOverridesTable {
  user_id: string;
  kind: string;
  rule_id: string;
  /** 0/1, or null. */
  enabled: number | null;
  /** JSON array, or null. */
  actions: string | null;
}

/** A user's server-side key backup version (`room_keys/version`). */
export interface KeyBackupVersionsTable {
  user_id: string;
  /** Numbered per user from 1, never reused. */
  version: number;
  algorithm: string;
  /** JSON object; `{}` once deleted. */
  auth_data: string;
  /** Bumped whenever the version's keys change. */
  etag: number;
  /** 0/1: deleted versions keep their row so numbers are never reused. */
  deleted: number;
}

/** One encrypted room key in a backup version (`room_keys/keys`). */
export interface KeyBackupSessionsTable {
  user_id: string;
  version: number;
  room_id: string;
  session_id: string;
  first_message_index: number;
  forwarded_count: number;
  /** 0/1. */
  is_verified: number;
  /** JSON object, opaque to the server. */
  session_data: string;
}

/** A device's published identity keys (`/keys/upload` `device_keys`). */
export interface E2eDeviceKeysTable {
  user_id: string;
  device_id: string;
  /** JSON object as uploaded, without `unsigned`. */
  key_json: string;
}

/** An unclaimed one-time key of a device. */
export interface E2eOneTimeKeysTable {
  user_id: string;
  device_id: string;
  algorithm: string;
  key_id: string;
  /** JSON value as uploaded (a string or a signed key object). */
  key_json: string;
  /** Position of the upload in the `one_time_key_uploads` sequence: claims take the oldest. */
  upload_id: number;
}

/** A device's fallback key of one algorithm. */
export interface E2eFallbackKeysTable {
  user_id: string;
  device_id: string;
  algorithm: string;
  key_id: string;
  key_json: string;
  /** 0/1: handed out by a claim since it was uploaded. */
  used: number;
}

/** A user's cross-signing key of one usage (`master`, `self_signing`, `user_signing`). */
export interface E2eCrossSigningKeysTable {
  user_id: string;
  usage: string;
  /** Unpadded base64 ed25519 public key. */
  public_key: string;
  /** JSON object as uploaded. */
  key_json: string;
}

/** A signature added to a device key or master key by `/keys/signatures/upload`. */
export interface E2eKeySignaturesTable {
  user_id: string;
  /** A device ID, or a master key's public key. */
  key_id: string;
  signer_user_id: string;
  /** `ed25519:<device ID or public key>`. */
  signer_key_id: string;
  signature: string;
}

/** A media item of the tenant (`mxc://server_name/media_id`); see migrations/0010-media.ts. */
export interface LocalMediaTable {
  media_id: string;
  user_id: string;
  created_ts: number;
  /** Null while an asynchronous upload is pending. */
  uploaded_ts: number | null;
  /** Pending uploads: until when `PUT /upload` is accepted. */
  unused_expires_ts: number | null;
  content_type: string | null;
  upload_name: string | null;
  size: number | null;
  /** Hex SHA-256 of the content. */
  sha256: string | null;
}

/** One row (id 1): the bytes of all the tenant's stored media, for the storage quota. */
export interface MediaUsageTable {
  id: number;
  total_bytes: number;
}

/** A cached thumbnail of a media item; see migrations/0011-media-thumbnails.ts. */
export interface MediaThumbnailsTable {
  media_id: string;
  width: number;
  height: number;
  /** `crop` or `scale`. */
  method: string;
  /** 0/1: an animated thumbnail (migration 0016). */
  animated: number;
  content_type: string;
  size: number;
  created_ts: number;
}

/** A signing key of another server; see migrations/0012-federation.ts. */
export interface RemoteServerKeysTable {
  server_name: string;
  key_id: string;
  public_key: string;
  valid_until_ts: number;
  /** Set for old keys: signatures made after it are refused. */
  expired_ts: number | null;
  fetched_ts: number;
  /** The server's signed key document (JSON text) the key was last seen in. */
  key_response: string;
}

/** A transaction received from another server, and what it was answered. */
export interface FederationInboundTxnsTable {
  origin: string;
  txn_id: string;
  /** JSON text. */
  response: string;
  received_ts: number;
}

/** Backoff state of one destination of outbound federation. */
export interface FederationDestinationsTable {
  destination: string;
  failures: number;
  retry_at_ts: number;
  last_success_ts: number | null;
  last_error: string | null;
}

/** One PDU or EDU a destination still has to be sent. */
export interface FederationOutboundTable {
  destination: string;
  queue_id: number;
  kind: 'pdu' | 'edu';
  /** For `pdu`. */
  event_id: string | null;
  /** For `edu`. */
  edu_type: string | null;
  /** For `edu`: the content as JSON text. */
  content: string | null;
}

export interface Database {
  tenant_meta: TenantMetaTable;
  sequences: SequencesTable;
  rooms: RoomsTable;
  events: EventsTable;
  event_prev_events: EventPrevEventsTable;
  event_auth_events: EventAuthEventsTable;
  event_forward_extremities: EventForwardExtremitiesTable;
  state_groups: StateGroupsTable;
  state_group_entries: StateGroupEntriesTable;
  event_to_state_group: EventToStateGroupTable;
  users: UsersTable;
  profiles: ProfilesTable;
  devices: DevicesTable;
  access_tokens: AccessTokensTable;
  refresh_tokens: RefreshTokensTable;
  login_tokens: LoginTokensTable;
  uia_sessions: UiaSessionsTable;
  registration_tokens: RegistrationTokensTable;
  account_data: AccountDataTable;
  filters: FiltersTable;
  room_memberships: RoomMembershipsTable;
  event_txn_ids: EventTxnIdsTable;
  room_aliases: RoomAliasesTable;
  room_directory: RoomDirectoryTable;
  forgotten_rooms: ForgottenRoomsTable;
  redactions: RedactionsTable;
  receipts: ReceiptsTable;
  presence: PresenceTable;
  to_device_inbox: ToDeviceInboxTable;
  to_device_txn_ids: ToDeviceTxnIdsTable;
  device_list_changes: DeviceListChangesTable;
  push_rules: PushRulesTable;
  push_rule_overrides: PushRuleOverridesTable;
  e2e_device_keys: E2eDeviceKeysTable;
  e2e_one_time_keys: E2eOneTimeKeysTable;
  e2e_fallback_keys: E2eFallbackKeysTable;
  e2e_cross_signing_keys: E2eCrossSigningKeysTable;
  e2e_key_signatures: E2eKeySignaturesTable;
  key_backup_versions: KeyBackupVersionsTable;
  key_backup_sessions: KeyBackupSessionsTable;
  local_media: LocalMediaTable;
  media_usage: MediaUsageTable;
  media_thumbnails: MediaThumbnailsTable;
  remote_server_keys: RemoteServerKeysTable;
  federation_inbound_txns: FederationInboundTxnsTable;
  federation_destinations: FederationDestinationsTable;
  federation_outbound: FederationOutboundTable;
  openid_tokens: OpenidTokensTable;
  remote_media_cache: RemoteMediaCacheTable;
}

/** An OpenID token, kept as its SHA-256 (hex), valid until `expires_ts`. */
export interface OpenidTokensTable {
  token_hash: string;
  user_id: string;
  expires_ts: number;
}

/** Another server's media cached here; see migrations/0015-remote-media.ts. */
export interface RemoteMediaCacheTable {
  origin: string;
  media_id: string;
  /** The local name of the cached bytes (`remote/…`) and of their thumbnails. */
  cache_id: string;
  content_type: string;
  upload_name: string | null;
  size: number;
  /** Hex SHA-256 of the content. */
  sha256: string;
  fetched_ts: number;
  /** When it was last served (at most an hour behind); migration 0016. */
  last_access_ts: number;
}
