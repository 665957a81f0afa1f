import { badJson, missingParam } from '../../core/errors.js';

/** Who a login or password stage names: a user (localpart or user ID) or a third-party ID. */
export type UserIdentifier = { type: 'user'; user: string } | { type: 'thirdparty' };

/**
 * Reads the user identifier of a login or `m.login.password` auth dict: `identifier`
 * (`m.id.user`, `m.id.thirdparty`, `m.id.phone`), or the deprecated top-level `user` or
 * `medium` + `address`.
 */
export function userIdentifierOf(input: Record<string, unknown>): UserIdentifier {
  const identifier = input['identifier'];
  if (identifier !== undefined && identifier !== null) {
    if (typeof identifier !== 'object' || Array.isArray(identifier)) {
      throw badJson('identifier must be an object');
    }
    const fields = identifier as Record<string, unknown>;
    switch (fields['type']) {
      case 'm.id.user': {
        const user = fields['user'];
        if (user === undefined) throw missingParam('Missing identifier.user');
        if (typeof user !== 'string') throw badJson('identifier.user must be a string');
        return { type: 'user', user };
      }
      case 'm.id.thirdparty':
      case 'm.id.phone':
        return { type: 'thirdparty' };
      case undefined:
        throw missingParam('Missing identifier.type');
      default:
        throw badJson('Unknown identifier type');
    }
  }
  const user = input['user'];
  if (typeof user === 'string') return { type: 'user', user };
  if (input['medium'] !== undefined && input['address'] !== undefined)
    return { type: 'thirdparty' };
  throw missingParam('Missing identifier');
}
