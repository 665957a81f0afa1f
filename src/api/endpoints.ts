import type { Endpoint } from './endpoint.js';
import { getVersions } from './client/get-versions.js';
import { getRegisterNonce } from './admin/register/get-register-nonce.js';
import { registerWithSharedSecret } from './admin/register/register-with-shared-secret.js';
import { createRegistrationToken } from './admin/registration-tokens/create-registration-token.js';
import { listRegistrationTokens } from './admin/registration-tokens/list-registration-tokens.js';
import { changePassword } from './client/account/change-password.js';
import { deactivateAccount } from './client/account/deactivate-account.js';
import { getThreepids } from './client/account/get-threepids.js';
import { whoami } from './client/account/whoami.js';
import { getAccountData } from './client/account-data/get-account-data.js';
import { getRoomAccountData } from './client/account-data/get-room-account-data.js';
import { setAccountData } from './client/account-data/set-account-data.js';
import { setRoomAccountData } from './client/account-data/set-room-account-data.js';
import { getCapabilities } from './client/capabilities/get-capabilities.js';
import { deleteDevice } from './client/devices/delete-device.js';
import { deleteDevices } from './client/devices/delete-devices.js';
import { getDevice } from './client/devices/get-device.js';
import { getDevices } from './client/devices/get-devices.js';
import { updateDevice } from './client/devices/update-device.js';
import { createFilter } from './client/filter/create-filter.js';
import { getFilter } from './client/filter/get-filter.js';
import { createLoginToken } from './client/login/create-login-token.js';
import { getLoginFlows } from './client/login/get-login-flows.js';
import { login } from './client/login/login.js';
import { logout } from './client/login/logout.js';
import { logoutAll } from './client/login/logout-all.js';
import { refresh } from './client/login/refresh.js';
import { deleteProfileField } from './client/profile/delete-profile-field.js';
import { getProfile } from './client/profile/get-profile.js';
import { getProfileField } from './client/profile/get-profile-field.js';
import { setProfileField } from './client/profile/set-profile-field.js';
import { getRegistrationTokenValidity } from './client/register/get-registration-token-validity.js';
import { getUsernameAvailable } from './client/register/get-username-available.js';
import { register } from './client/register/register.js';
import { getPresence } from './client/presence/get-presence.js';
import { setPresence } from './client/presence/set-presence.js';
import { sendReceipt } from './client/receipts/send-receipt.js';
import { setReadMarkers } from './client/receipts/set-read-markers.js';
import { setTyping } from './client/typing/set-typing.js';
import { createRoom } from './client/rooms/create-room.js';
import { joinRoomById } from './client/rooms/join-room-by-id.js';
import { joinRoom } from './client/rooms/join-room.js';
import { knockRoom } from './client/rooms/knock-room.js';
import { inviteUser } from './client/rooms/invite-user.js';
import { leaveRoom } from './client/rooms/leave-room.js';
import { forgetRoom } from './client/rooms/forget-room.js';
import { kickUser } from './client/rooms/kick-user.js';
import { banUser } from './client/rooms/ban-user.js';
import { unbanUser } from './client/rooms/unban-user.js';
import { getJoinedRooms } from './client/rooms/get-joined-rooms.js';
import { sendMessage } from './client/rooms/send-message.js';
import { redactEvent } from './client/rooms/redact-event.js';
import { setRoomState } from './client/rooms/set-room-state.js';
import { getRoomStateEvent } from './client/rooms/get-room-state-event.js';
import { getRoomState } from './client/rooms/get-room-state.js';
import { getMembers } from './client/rooms/get-members.js';
import { getJoinedMembers } from './client/rooms/get-joined-members.js';
import { getMessages } from './client/rooms/get-messages.js';
import { sync } from './client/sync/sync.js';
import { sendToDevice } from './client/to-device/send-to-device.js';
import { getGlobalPushRules, getPushRules } from './client/pushrules/get-push-rules.js';
import { getTurnServer } from './client/voip/get-turn-server.js';
import { getPushRule } from './client/pushrules/get-push-rule.js';
import { setPushRule } from './client/pushrules/set-push-rule.js';
import { deletePushRule } from './client/pushrules/delete-push-rule.js';
import { getPushRuleEnabled } from './client/pushrules/get-push-rule-enabled.js';
import { setPushRuleEnabled } from './client/pushrules/set-push-rule-enabled.js';
import { getPushRuleActions } from './client/pushrules/get-push-rule-actions.js';
import { setPushRuleActions } from './client/pushrules/set-push-rule-actions.js';
import { getEventContext } from './client/rooms/get-event-context.js';
import { getRoomEvent } from './client/rooms/get-room-event.js';
import { getEventByTimestamp } from './client/rooms/get-event-by-timestamp.js';
import { getRoomAliases } from './client/rooms/get-room-aliases.js';
import { setRoomAlias } from './client/directory/set-room-alias.js';
import { getRoomAlias } from './client/directory/get-room-alias.js';
import { deleteRoomAlias } from './client/directory/delete-room-alias.js';
import { getRoomVisibility } from './client/directory/get-room-visibility.js';
import { setRoomVisibility } from './client/directory/set-room-visibility.js';
import { getPublicRooms } from './client/directory/get-public-rooms.js';
import { queryPublicRooms } from './client/directory/query-public-rooms.js';
import { getServerKeys } from './key/get-server-keys.js';
import { receiveInvite } from './federation/membership/invite.js';
import { makeJoin } from './federation/membership/make-join.js';
import { makeKnock } from './federation/membership/make-knock.js';
import { makeLeave } from './federation/membership/make-leave.js';
import { sendJoin } from './federation/membership/send-join.js';
import { sendKnock } from './federation/membership/send-knock.js';
import { sendLeave } from './federation/membership/send-leave.js';
import { queryServerKeys, queryServerKeysBatch } from './key/query-server-keys.js';
import { getClientWellKnown } from './well-known/get-client-well-known.js';
import { getServerWellKnown } from './well-known/get-server-well-known.js';
import { upgradeRoom } from './client/rooms/upgrade-room.js';
import { uploadKeys } from './client/keys/upload-keys.js';
import { queryKeys } from './client/keys/query-keys.js';
import { claimKeys } from './client/keys/claim-keys.js';
import { getKeyChanges } from './client/keys/get-key-changes.js';
import { uploadCrossSigningKeys } from './client/keys/upload-cross-signing-keys.js';
import { uploadSignatures } from './client/keys/upload-signatures.js';
import { createBackupVersion } from './client/room-keys/create-backup-version.js';
import { getCurrentBackupVersion } from './client/room-keys/get-current-backup-version.js';
import { getBackupVersion } from './client/room-keys/get-backup-version.js';
import { updateBackupVersion } from './client/room-keys/update-backup-version.js';
import { deleteBackupVersion } from './client/room-keys/delete-backup-version.js';
import { putAllRoomKeys } from './client/room-keys/put-all-room-keys.js';
import { putRoomKeys } from './client/room-keys/put-room-keys.js';
import { putSessionKey } from './client/room-keys/put-session-key.js';
import { getAllRoomKeys } from './client/room-keys/get-all-room-keys.js';
import { getRoomKeys } from './client/room-keys/get-room-keys.js';
import { getSessionKey } from './client/room-keys/get-session-key.js';
import { deleteAllRoomKeys } from './client/room-keys/delete-all-room-keys.js';
import { deleteRoomKeys } from './client/room-keys/delete-room-keys.js';
import { deleteSessionKey } from './client/room-keys/delete-session-key.js';
import { uploadMedia } from './client/media/upload-media.js';
import { createMedia } from './client/media/create-media.js';
import { uploadMediaTo } from './client/media/upload-media-to.js';
import { downloadMedia } from './client/media/download-media.js';
import { downloadMediaLegacy } from './client/media/download-media-legacy.js';
import { getMediaConfig } from './client/media/get-media-config.js';
import { thumbnailMedia } from './client/media/thumbnail-media.js';
import { thumbnailMediaLegacy } from './client/media/thumbnail-media-legacy.js';
import { previewUrl } from './client/media/preview-url.js';

/** Every endpoint a tenant serves; the HTTP layer registers exactly these. */
import { sendTransaction } from './federation/transactions/send-transaction.js';
import { downloadFederationMedia } from './federation/media/download-federation-media.js';
import { thumbnailFederationMedia } from './federation/media/thumbnail-federation-media.js';
import { getFederationEvent } from './federation/events/get-event.js';
import { getState } from './federation/events/get-state.js';
import { getStateIds } from './federation/events/get-state-ids.js';
import { getMissingEvents } from './federation/events/get-missing-events.js';
import { backfillRoom } from './federation/events/backfill.js';
import { getEventAuth } from './federation/events/get-event-auth.js';
import { federationTimestampToEvent } from './federation/events/timestamp-to-event.js';
import { queryDirectory } from './federation/query/query-directory.js';
import { queryProfile } from './federation/query/query-profile.js';
import { getServerVersion } from './federation/version/get-server-version.js';
import { getUserDevices } from './federation/keys/get-user-devices.js';
import { requestOpenidToken } from './client/openid/request-openid-token.js';
import { openidUserinfo } from './federation/openid/openid-userinfo.js';
import { getSpaceHierarchy } from './client/spaces/get-space-hierarchy.js';
import { getFederationHierarchy } from './federation/spaces/get-hierarchy.js';
import { queryUserKeys } from './federation/keys/query-user-keys.js';
import { claimUserKeys } from './federation/keys/claim-user-keys.js';
import {
  getFederationPublicRooms,
  queryFederationPublicRooms,
} from './federation/directory/get-public-rooms.js';
export const tenantEndpoints: readonly Endpoint[] = [
  getVersions,
  getServerKeys,
  queryServerKeys,
  queryServerKeysBatch,
  getClientWellKnown,
  getServerWellKnown,
  // Accounts: registration, login and sessions, account management, devices, user data.
  register,
  getUsernameAvailable,
  getRegistrationTokenValidity,
  getLoginFlows,
  login,
  createLoginToken,
  refresh,
  logout,
  logoutAll,
  whoami,
  changePassword,
  deactivateAccount,
  getThreepids,
  getDevices,
  getDevice,
  updateDevice,
  deleteDevice,
  deleteDevices,
  getCapabilities,
  getProfile,
  getProfileField,
  setProfileField,
  deleteProfileField,
  getAccountData,
  setAccountData,
  getRoomAccountData,
  setRoomAccountData,
  createFilter,
  getFilter,
  getRegisterNonce,
  registerWithSharedSecret,
  createRegistrationToken,
  listRegistrationTokens,
  // Ephemeral streams: typing, receipts and read markers, presence.
  setTyping,
  sendReceipt,
  setReadMarkers,
  setPresence,
  getPresence,
  // Rooms: creation, membership, sending, state, timeline, redactions, aliases, directory.
  createRoom,
  joinRoomById,
  joinRoom,
  knockRoom,
  inviteUser,
  leaveRoom,
  forgetRoom,
  kickUser,
  banUser,
  unbanUser,
  getJoinedRooms,
  sendMessage,
  redactEvent,
  setRoomState,
  getRoomStateEvent,
  getRoomState,
  getMembers,
  getJoinedMembers,
  getMessages,
  getEventContext,
  getRoomEvent,
  getEventByTimestamp,
  getRoomAliases,
  setRoomAlias,
  getRoomAlias,
  deleteRoomAlias,
  getRoomVisibility,
  setRoomVisibility,
  getPublicRooms,
  queryPublicRooms,
  // Sync.
  sync,
  // Push rules: the rulesets, and each rule, its `enabled` and its `actions`.
  getPushRules,
  getGlobalPushRules,
  getPushRule,
  setPushRule,
  deletePushRule,
  getPushRuleEnabled,
  setPushRuleEnabled,
  getPushRuleActions,
  setPushRuleActions,
  // Send-to-device messaging.
  sendToDevice,
  // Room upgrades.
  upgradeRoom,
  // Voice over IP: TURN credentials.
  getTurnServer,
  // End-to-end encryption keys: device, one-time and fallback keys, cross-signing.
  uploadKeys,
  queryKeys,
  claimKeys,
  getKeyChanges,
  uploadCrossSigningKeys,
  uploadSignatures,
  // Server-side key backups: versions, and keys at all three levels.
  createBackupVersion,
  getCurrentBackupVersion,
  getBackupVersion,
  updateBackupVersion,
  deleteBackupVersion,
  putAllRoomKeys,
  putRoomKeys,
  putSessionKey,
  getAllRoomKeys,
  getRoomKeys,
  getSessionKey,
  deleteAllRoomKeys,
  deleteRoomKeys,
  deleteSessionKey,
  // Content repository: uploads (direct and asynchronous), downloads, config.
  uploadMedia,
  createMedia,
  uploadMediaTo,
  downloadMedia,
  downloadMediaLegacy,
  getMediaConfig,
  // Thumbnails (made on request, cached).
  thumbnailMedia,
  thumbnailMediaLegacy,
  // Federation: membership across servers (join, leave, knock, invite).
  makeJoin,
  sendJoin,
  makeLeave,
  sendLeave,
  makeKnock,
  sendKnock,
  receiveInvite,
  // Federation, inbound: transactions, the reads other servers make of rooms, queries.
  sendTransaction,
  getFederationEvent,
  getState,
  getStateIds,
  getMissingEvents,
  backfillRoom,
  getEventAuth,
  federationTimestampToEvent,
  queryDirectory,
  queryProfile,
  getServerVersion,
  getFederationPublicRooms,
  queryFederationPublicRooms,
  // Federation: end-to-end encryption keys of local users.
  getUserDevices,
  queryUserKeys,
  claimUserKeys,
  // OpenID: tokens users hand to third parties, and their check.
  requestOpenidToken,
  openidUserinfo,
  // Spaces: the hierarchy under a room, for clients and for other servers.
  getSpaceHierarchy,
  getFederationHierarchy,
  // Federation: this server's media for other servers.
  downloadFederationMedia,
  thumbnailFederationMedia,
  // Media: URL previews.
  previewUrl,
];
