/**
 * The one catalog of Matrix errors: every failure a client or remote server sees is a
 * `MatrixError`, and every errcode has one default HTTP status here.
 */

/** Default HTTP status for each errcode in the spec (client-server API, "Standard error response"). */
const DEFAULT_STATUS = {
  M_FORBIDDEN: 403,
  M_UNKNOWN_TOKEN: 401,
  M_MISSING_TOKEN: 401,
  M_USER_LOCKED: 401,
  M_USER_SUSPENDED: 403,
  M_BAD_JSON: 400,
  M_NOT_JSON: 400,
  M_NOT_FOUND: 404,
  M_LIMIT_EXCEEDED: 429,
  M_UNRECOGNIZED: 404,
  M_UNKNOWN: 500,
  M_UNKNOWN_DEVICE: 400,
  M_UNAUTHORIZED: 401,
  M_USER_DEACTIVATED: 403,
  M_USER_IN_USE: 400,
  M_INVALID_USERNAME: 400,
  M_ROOM_IN_USE: 400,
  M_INVALID_ROOM_STATE: 400,
  M_THREEPID_IN_USE: 400,
  M_THREEPID_NOT_FOUND: 400,
  M_THREEPID_AUTH_FAILED: 401,
  M_THREEPID_DENIED: 403,
  M_THREEPID_MEDIUM_NOT_SUPPORTED: 400,
  M_SERVER_NOT_TRUSTED: 403,
  M_UNSUPPORTED_ROOM_VERSION: 400,
  M_INCOMPATIBLE_ROOM_VERSION: 400,
  M_BAD_STATE: 400,
  M_GUEST_ACCESS_FORBIDDEN: 403,
  M_CAPTCHA_NEEDED: 401,
  M_CAPTCHA_INVALID: 400,
  M_MISSING_PARAM: 400,
  M_INVALID_PARAM: 400,
  M_TOO_LARGE: 413,
  M_EXCLUSIVE: 400,
  M_RESOURCE_LIMIT_EXCEEDED: 403,
  M_USER_LIMIT_EXCEEDED: 403,
  M_CANNOT_LEAVE_SERVER_NOTICE_ROOM: 403,
  M_WEAK_PASSWORD: 400,
  M_NOT_YET_UPLOADED: 504,
  M_CANNOT_OVERWRITE_MEDIA: 409,
  M_WRONG_ROOM_KEYS_VERSION: 403,
  M_UNACTIONABLE: 400,
  M_BAD_ALIAS: 400,
  M_INVALID_SIGNATURE: 400,
  // Federation: restricted joins (server-server API "make_join", "send_join").
  M_UNABLE_TO_AUTHORISE_JOIN: 400,
  M_UNABLE_TO_GRANT_JOIN: 400,
} as const satisfies Record<string, number>;

export type Errcode = keyof typeof DEFAULT_STATUS;

export function defaultStatusOf(errcode: Errcode): number {
  return DEFAULT_STATUS[errcode];
}

/** Extra top-level fields some errors carry (`retry_after_ms`, `soft_logout`, `room_version`, …). */
export type ErrorExtras = Record<string, unknown>;

export class MatrixError extends Error {
  readonly errcode: Errcode;
  readonly status: number;
  readonly extras: ErrorExtras;
  /** Response headers that belong to this error (e.g. `Retry-After`). */
  readonly headers: Record<string, string>;

  constructor(
    errcode: Errcode,
    message: string,
    options: { status?: number; extras?: ErrorExtras; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'MatrixError';
    this.errcode = errcode;
    this.status = options.status ?? DEFAULT_STATUS[errcode];
    this.extras = options.extras ?? {};
    this.headers = options.headers ?? {};
  }

  /** The JSON body the spec defines for an error response. */
  toJSON(): Record<string, unknown> {
    return { ...this.extras, errcode: this.errcode, error: this.message };
  }
}

export function isMatrixError(value: unknown): value is MatrixError {
  return value instanceof MatrixError;
}

// Named constructors for the errors code raises most often.

export const forbidden = (message = 'Forbidden') => new MatrixError('M_FORBIDDEN', message);
export const notFound = (message = 'Not found') => new MatrixError('M_NOT_FOUND', message);
export const unrecognized = (message = 'Unrecognized request', status = 404) =>
  new MatrixError('M_UNRECOGNIZED', message, { status });
export const notJson = (message = 'Content not JSON') => new MatrixError('M_NOT_JSON', message);
export const badJson = (message: string) => new MatrixError('M_BAD_JSON', message);
export const missingParam = (message: string) => new MatrixError('M_MISSING_PARAM', message);
export const invalidParam = (message: string) => new MatrixError('M_INVALID_PARAM', message);
export const tooLarge = (message = 'Request too large') => new MatrixError('M_TOO_LARGE', message);
export const unknownError = (message = 'Internal server error') =>
  new MatrixError('M_UNKNOWN', message);
export const missingToken = (message = 'Missing access token') =>
  new MatrixError('M_MISSING_TOKEN', message);
export const unknownToken = (message = 'Unrecognised access token', softLogout = false) =>
  new MatrixError('M_UNKNOWN_TOKEN', message, { extras: { soft_logout: softLogout } });
export const unauthorized = (message = 'Unauthorized') =>
  new MatrixError('M_UNAUTHORIZED', message);
export const limitExceeded = (retryAfterMs: number, message = 'Too many requests') =>
  new MatrixError('M_LIMIT_EXCEEDED', message, {
    extras: { retry_after_ms: retryAfterMs },
    headers: { 'Retry-After': String(Math.ceil(retryAfterMs / 1000)) },
  });
export const guestAccessForbidden = (message = 'Guest access is not allowed') =>
  new MatrixError('M_GUEST_ACCESS_FORBIDDEN', message);
export const userInUse = (message = 'User ID already taken') =>
  new MatrixError('M_USER_IN_USE', message);
export const invalidUsername = (message: string) => new MatrixError('M_INVALID_USERNAME', message);

/** One flow of user-interactive authentication: the stages to complete, in order. */
export interface AuthFlow {
  stages: string[];
}

/** The body of a user-interactive authentication 401 (spec: "User-interactive API in the REST API"). */
export interface InteractiveAuthBody {
  flows: AuthFlow[];
  params: Record<string, Record<string, unknown>>;
  session: string;
  /** Stages completed so far; omitted while none is. */
  completed?: string[];
}

/**
 * "More authentication needed": a 401 whose body lists the flows, the session and the stages
 * completed. When an attempt at a stage failed, the body also carries `errcode` and `error`;
 * otherwise it has neither (the spec's first response has no errcode).
 */
export class InteractiveAuthRequired extends MatrixError {
  readonly body: InteractiveAuthBody;
  readonly failed: boolean;

  constructor(body: InteractiveAuthBody, failure?: { errcode: Errcode; message: string }) {
    super(failure?.errcode ?? 'M_UNAUTHORIZED', failure?.message ?? 'Authentication required', {
      status: 401,
    });
    this.name = 'InteractiveAuthRequired';
    this.body = body;
    this.failed = failure !== undefined;
  }

  override toJSON(): Record<string, unknown> {
    return this.failed
      ? { ...this.body, errcode: this.errcode, error: this.message }
      : { ...this.body };
  }
}
