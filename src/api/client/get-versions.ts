import { defineEndpoint } from '../endpoint.js';

/**
 * Spec versions this server speaks. The client-server API is built to v1.19 (the spec Marina
 * follows), with the modules the spec requires of a server for clients of the CLI feature
 * profile (instant messaging, direct messaging, presence, receipts, typing, history
 * visibility, room upgrades) and more (push rules, to-device messaging, ignoring users, VoIP
 * TURN credentials). What the Web/Mobile/Desktop profiles require and is not served yet — the
 * content repository (media) — is listed in the README. matrix-js-sdk based clients (Element
 * Web among them) refuse a server that claims none of v1.1 … v1.9.
 */
export const SUPPORTED_CLIENT_SPEC_VERSIONS: readonly string[] = Array.from(
  { length: 19 },
  (_, index) => `v1.${index + 1}`,
);

/** `GET /_matrix/client/versions` */
export const getVersions = defineEndpoint({
  method: 'GET',
  paths: ['/_matrix/client/versions'],
  auth: 'none',
  handler: async () => ({ versions: [...SUPPORTED_CLIENT_SPEC_VERSIONS], unstable_features: {} }),
});
