import type { Session } from '../../services/login/login.js';

/** The session part of a `/login` or `/register` response. */
export function sessionBody(session: Session): Record<string, unknown> {
  return {
    user_id: session.userId,
    access_token: session.accessToken,
    device_id: session.deviceId,
    ...(session.refreshToken === undefined ? {} : { refresh_token: session.refreshToken }),
    ...(session.expiresInMs === undefined ? {} : { expires_in_ms: session.expiresInMs }),
  };
}
