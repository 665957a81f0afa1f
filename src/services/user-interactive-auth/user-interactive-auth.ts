import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Clock } from '../../core/clock.js';
import {
  InteractiveAuthRequired,
  MatrixError,
  badJson,
  forbidden,
  missingParam,
  type Errcode,
} from '../../core/errors.js';
import {
  addPendingUse,
  completePendingUse,
  releasePendingUse,
  selectRegistrationToken,
} from '../../storage/accounts/registration-tokens.js';
import {
  deleteUiaSessionsBefore,
  insertUiaSession,
  selectUiaSession,
  takeUiaSession,
  updateUiaSession,
  type UiaSessionRecord,
} from '../../storage/accounts/uia-sessions.js';
import type { Database } from '../../storage/schema.js';
import type { TenantDatabase } from '../../storage/tenant-database.js';
import { randomId } from '../tokens/secrets.js';
import type { RegistrationTokens } from '../users/registration-tokens.js';
import { userIdentifierOf } from '../users/user-identifier.js';
import type { Users } from '../users/users.js';

export const STAGE_PASSWORD = 'm.login.password';
export const STAGE_DUMMY = 'm.login.dummy';
export const STAGE_REGISTRATION_TOKEN = 'm.login.registration_token';

/** How long a session may take to complete (Synapse keeps them for 48 h; a login is minutes). */
export const UIA_SESSION_LIFETIME_MS = 60 * 60 * 1000;

/** The `auth` dict of a request (`definitions/auth_data.yaml`): stage-specific keys allowed. */
export const authDataSchema = z.looseObject({
  type: z.string().optional(),
  session: z.string().optional(),
});
export type AuthData = z.infer<typeof authDataSchema>;

export interface UiaRequest {
  /**
   * What the session authorises, e.g. `POST /account/password` or `DELETE /devices/ABC`; a
   * session started for one action cannot complete another.
   */
  action: string;
  /** Each flow is a list of stage types, completed in order. */
  flows: readonly (readonly string[])[];
  /** The request's `auth`, if it sent one. */
  auth: AuthData | null | undefined;
  /** The user the request is authenticated as (access token); a password stage must prove it. */
  userId: string | null;
}

/** A completed user-interactive auth, to be used up by the action it authorised. */
export interface UiaAuthorisation {
  readonly sessionId: string;
  /** The user proven by a password stage, or the request's user; null if neither. */
  readonly userId: string | null;
  readonly completed: readonly string[];
  /** A registration token the session holds (m.login.registration_token). */
  readonly registrationToken: string | null;
  /**
   * Ends the session inside the action's transaction, so each session authorises exactly one
   * action, and a failed action leaves the session (and any token use it holds) as it was.
   */
  commit(trx: Kysely<Database>): Promise<void>;
}

/**
 * User-interactive authentication (spec: "User-Interactive Authentication API"). Sessions are
 * kept in the tenant database so that a flow survives a restart or a move of the tenant.
 */
export class UserInteractiveAuth {
  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
    private readonly users: Users,
    private readonly registrationTokens: RegistrationTokens,
  ) {}

  /**
   * The flows for re-authenticating a user: their password, or `m.login.dummy` for an account
   * that has no password (it has nothing else to prove itself with yet).
   */
  async flowsForUser(userId: string): Promise<string[][]> {
    const user = await this.users.get(userId);
    return user?.hasPassword ? [[STAGE_PASSWORD]] : [[STAGE_DUMMY]];
  }

  /**
   * Runs one step of user-interactive auth. Returns when a flow is complete; otherwise throws
   * `InteractiveAuthRequired` (401 with flows, session and completed stages, plus `errcode` when
   * an attempt failed), or a plain error for a malformed request or a misused session.
   */
  async authorise(request: UiaRequest): Promise<UiaAuthorisation> {
    const auth = request.auth ?? undefined;
    if (auth === undefined) throw this.#challenge(request, await this.#create(request));

    let session: UiaSessionRecord;
    if (auth.session === undefined) {
      session = await this.#create(request);
    } else {
      const found = await this.db.read((db) => selectUiaSession(db, auth.session as string));
      if (found === undefined || this.#expired(found)) {
        throw new MatrixError('M_UNKNOWN', 'Unknown or expired session', { status: 400 });
      }
      session = found;
    }
    if (session.action !== request.action) {
      throw forbidden('Requested operation has changed during the UI authentication session');
    }
    if (session.userId !== null && request.userId !== null && session.userId !== request.userId) {
      throw forbidden('This session belongs to another user');
    }

    const type = auth.type;
    if (type !== undefined && !session.completed.includes(type)) {
      if (!isNextStage(request.flows, session.completed, type)) {
        throw this.#challenge(request, session, {
          errcode: 'M_UNRECOGNIZED',
          message: `${type} is not the next stage of any flow offered`,
        });
      }
      session = await this.#attempt(request, session, type, auth);
    }

    if (!request.flows.some((flow) => flow.every((stage) => session.completed.includes(stage)))) {
      throw this.#challenge(request, session);
    }
    const { sessionId } = session;
    return {
      sessionId,
      userId: session.userId ?? request.userId,
      completed: [...session.completed],
      registrationToken: session.registrationToken,
      commit: async (trx) => {
        const taken = await takeUiaSession(trx, sessionId);
        if (taken === undefined) {
          throw new MatrixError('M_UNKNOWN', 'This session was used already', { status: 400 });
        }
        if (taken.registration_token !== null) {
          await completePendingUse(trx, taken.registration_token);
        }
      },
    };
  }

  /** Checks one stage and records it as completed; a failed attempt throws a 401 with errcode. */
  async #attempt(
    request: UiaRequest,
    session: UiaSessionRecord,
    type: string,
    auth: AuthData,
  ): Promise<UiaSessionRecord> {
    const fail = (errcode: Errcode, message: string) =>
      this.#challenge(request, session, { errcode, message });
    let userId = session.userId;
    let registrationToken = session.registrationToken;

    switch (type) {
      case STAGE_DUMMY:
        break;
      case STAGE_PASSWORD: {
        const identifier = userIdentifierOf(auth);
        const password = auth['password'];
        if (password === undefined) throw missingParam('Missing auth.password');
        if (typeof password !== 'string') throw badJson('auth.password must be a string');
        if (identifier.type !== 'user') throw fail('M_FORBIDDEN', 'Unknown third-party identifier');
        const check = await this.users.checkPassword(identifier.user, password);
        if (!check.ok) throw fail('M_FORBIDDEN', 'Invalid username or password');
        const expected = request.userId ?? session.userId;
        if (expected !== null && check.userId !== expected) {
          throw fail('M_FORBIDDEN', 'The password must be that of the user making the request');
        }
        userId = check.userId;
        break;
      }
      case STAGE_REGISTRATION_TOKEN: {
        const token = auth['token'];
        if (token === undefined) throw missingParam('Missing auth.token');
        if (typeof token !== 'string') throw badJson('auth.token must be a string');
        break;
      }
      default:
        throw fail('M_UNRECOGNIZED', `Unsupported authentication type ${type}`);
    }

    const completed = [...session.completed, type];
    const ok = await this.db.transact(async (trx) => {
      if (type === STAGE_REGISTRATION_TOKEN) {
        const token = auth['token'] as string;
        const row = await selectRegistrationToken(trx, token, {
          forUpdate: this.db.dialect === 'postgres',
        });
        if (!this.registrationTokens.isUsable(row)) return false;
        // Counted as pending now, so that a token with one use left cannot start two
        // registrations; released if the session expires unfinished.
        await addPendingUse(trx, token);
        registrationToken = token;
      }
      await updateUiaSession(trx, session.sessionId, { userId, completed, registrationToken });
      return true;
    });
    if (!ok) throw fail('M_UNAUTHORIZED', 'Invalid registration token');
    return { ...session, userId, completed, registrationToken };
  }

  async #create(request: UiaRequest): Promise<UiaSessionRecord> {
    const now = this.clock.now();
    const session: UiaSessionRecord = {
      sessionId: randomId(),
      action: request.action,
      userId: request.userId,
      completed: [],
      registrationToken: null,
      createdTs: now,
    };
    await this.db.transact(async (trx) => {
      // Expired sessions go here, giving back the registration token uses they held.
      const held = await deleteUiaSessionsBefore(trx, now - UIA_SESSION_LIFETIME_MS);
      for (const token of held) await releasePendingUse(trx, token);
      await insertUiaSession(trx, session);
    });
    return session;
  }

  #expired(session: UiaSessionRecord): boolean {
    return session.createdTs + UIA_SESSION_LIFETIME_MS <= this.clock.now();
  }

  #challenge(
    request: UiaRequest,
    session: UiaSessionRecord,
    failure?: { errcode: Errcode; message: string },
  ): InteractiveAuthRequired {
    return new InteractiveAuthRequired(
      {
        flows: request.flows.map((stages) => ({ stages: [...stages] })),
        params: {},
        session: session.sessionId,
        ...(session.completed.length > 0 ? { completed: [...session.completed] } : {}),
      },
      failure,
    );
  }
}

/** Whether some flow starts with the stages completed so far and continues with `type`. */
function isNextStage(
  flows: readonly (readonly string[])[],
  completed: readonly string[],
  type: string,
): boolean {
  return flows.some(
    (flow) =>
      flow.length > completed.length &&
      completed.every((stage, i) => flow[i] === stage) &&
      flow[completed.length] === type,
  );
}
