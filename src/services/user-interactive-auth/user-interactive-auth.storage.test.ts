import { afterEach, describe, expect, it } from 'vitest';
import {
  openAccountServices,
  type TestAccountServices,
} from '../../../test/helpers/account-services.js';
import { InteractiveAuthRequired, type MatrixError } from '../../core/errors.js';
import { selectRegistrationToken } from '../../storage/accounts/registration-tokens.js';
import { UIA_SESSION_LIFETIME_MS, type UiaRequest } from './user-interactive-auth.js';

const opened: TestAccountServices[] = [];
afterEach(async () => {
  while (opened.length > 0) await opened.pop()?.close();
});

async function setup(mode: 'open' | 'token' = 'open') {
  const t = await openAccountServices({ registration_mode: mode });
  opened.push(t);
  const alice = await t.services.registration.createAccount({
    localpart: 'alice',
    password: 'alice-password',
    isAdmin: false,
    isGuest: false,
  });
  return { ...t, alice: alice.userId };
}

async function challengeOf(promise: Promise<unknown>): Promise<InteractiveAuthRequired> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(InteractiveAuthRequired);
  return error as InteractiveAuthRequired;
}

async function errorOf(promise: Promise<unknown>): Promise<MatrixError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: MatrixError) => e,
  );
}

describe('UserInteractiveAuth', () => {
  it('answers a request without auth with the flows and a new session', async () => {
    const { services } = await setup();
    const challenge = await challengeOf(
      services.uia.authorise({
        action: 'A',
        flows: [['m.login.dummy']],
        auth: undefined,
        userId: null,
      }),
    );
    expect(challenge.status).toBe(401);
    const body = challenge.toJSON();
    expect(body).toEqual({
      flows: [{ stages: ['m.login.dummy'] }],
      params: {},
      session: expect.any(String),
    });
    expect(body).not.toHaveProperty('errcode');
  });

  it('completes a dummy stage with or without a session, and each session once', async () => {
    const { services, db } = await setup();
    const request: UiaRequest = {
      action: 'A',
      flows: [['m.login.dummy']],
      auth: undefined,
      userId: null,
    };
    const direct = await services.uia.authorise({ ...request, auth: { type: 'm.login.dummy' } });
    expect(direct.completed).toEqual(['m.login.dummy']);

    const { session } = (await challengeOf(services.uia.authorise(request))).body;
    const done = await services.uia.authorise({
      ...request,
      auth: { type: 'm.login.dummy', session },
    });
    await db.transact((trx) => done.commit(trx));
    // Used up: a second action with the same session is refused.
    const again = await errorOf(
      services.uia.authorise({ ...request, auth: { type: 'm.login.dummy', session } }),
    );
    expect(again.status).toBe(400);
    // Committing twice (two actions racing on one session) fails the second.
    const other = await services.uia.authorise({ ...request, auth: { type: 'm.login.dummy' } });
    await db.transact((trx) => other.commit(trx));
    await expect(db.transact((trx) => other.commit(trx))).rejects.toMatchObject({ status: 400 });
  });

  it('checks passwords: wrong → 401 with errcode and the session; right → done', async () => {
    const { services, alice } = await setup();
    const request: UiaRequest = {
      action: 'POST /account/password',
      flows: await services.uia.flowsForUser(alice),
      auth: undefined,
      userId: alice,
    };
    expect(request.flows).toEqual([['m.login.password']]);
    const { session } = (await challengeOf(services.uia.authorise(request))).body;
    const identifier = { type: 'm.id.user', user: 'alice' };
    const wrong = await challengeOf(
      services.uia.authorise({
        ...request,
        auth: { type: 'm.login.password', session, identifier, password: 'nope' },
      }),
    );
    expect(wrong.toJSON()).toMatchObject({ errcode: 'M_FORBIDDEN', session });
    const right = await services.uia.authorise({
      ...request,
      auth: { type: 'm.login.password', session, identifier, password: 'alice-password' },
    });
    expect(right).toMatchObject({
      sessionId: session,
      userId: alice,
      completed: ['m.login.password'],
    });
  });

  it("refuses another user's password, another action and another user's session", async () => {
    const { services, alice } = await setup();
    const bob = (
      await services.registration.createAccount({
        localpart: 'bob',
        password: 'bob-password',
        isAdmin: false,
        isGuest: false,
      })
    ).userId;
    const request: UiaRequest = {
      action: 'DELETE /devices/X',
      flows: [['m.login.password']],
      auth: undefined,
      userId: alice,
    };
    const { session } = (await challengeOf(services.uia.authorise(request))).body;
    const asBob = await challengeOf(
      services.uia.authorise({
        ...request,
        auth: { type: 'm.login.password', session, user: 'bob', password: 'bob-password' },
      }),
    );
    expect(asBob.toJSON()).toMatchObject({ errcode: 'M_FORBIDDEN' });
    const otherAction = await errorOf(
      services.uia.authorise({ ...request, action: 'DELETE /devices/Y', auth: { session } }),
    );
    expect(otherAction).toMatchObject({ errcode: 'M_FORBIDDEN', status: 403 });
    const otherUser = await errorOf(
      services.uia.authorise({ ...request, userId: bob, auth: { session } }),
    );
    expect(otherUser).toMatchObject({ errcode: 'M_FORBIDDEN', status: 403 });
  });

  it('refuses stages out of order and unknown or expired sessions', async () => {
    const { services, clock } = await setup();
    const request: UiaRequest = {
      action: 'A',
      flows: [['m.login.dummy', 'm.login.password']],
      auth: undefined,
      userId: null,
    };
    const { session } = (await challengeOf(services.uia.authorise(request))).body;
    const outOfOrder = await challengeOf(
      services.uia.authorise({ ...request, auth: { type: 'm.login.password', session } }),
    );
    expect(outOfOrder.toJSON()).toMatchObject({ errcode: 'M_UNRECOGNIZED', session });
    const halfway = await challengeOf(
      services.uia.authorise({ ...request, auth: { type: 'm.login.dummy', session } }),
    );
    expect(halfway.toJSON()).toEqual({
      flows: [{ stages: ['m.login.dummy', 'm.login.password'] }],
      params: {},
      session,
      completed: ['m.login.dummy'],
    });
    // Retrying a completed stage just reports progress.
    const retried = await challengeOf(
      services.uia.authorise({ ...request, auth: { type: 'm.login.dummy', session } }),
    );
    expect(retried.body.completed).toEqual(['m.login.dummy']);

    expect(
      await errorOf(services.uia.authorise({ ...request, auth: { session: 'nope' } })),
    ).toMatchObject({
      status: 400,
    });
    clock.advance(UIA_SESSION_LIFETIME_MS);
    expect(await errorOf(services.uia.authorise({ ...request, auth: { session } }))).toMatchObject({
      status: 400,
    });
  });

  it('holds a registration token use while pending, completes it, releases it on expiry', async () => {
    const { services, db, clock } = await setup('token');
    await services.registrationTokens.create({ token: 'ONEUSE', usesAllowed: 1 });
    const request: UiaRequest = {
      action: 'POST /register',
      flows: services.registration.flows(),
      auth: undefined,
      userId: null,
    };
    const token = () => db.read((d) => selectRegistrationToken(d, 'ONEUSE'));

    const bad = await challengeOf(
      services.uia.authorise({
        ...request,
        auth: { type: 'm.login.registration_token', token: 'WRONG' },
      }),
    );
    expect(bad.toJSON()).toMatchObject({ errcode: 'M_UNAUTHORIZED' });

    const first = await services.uia.authorise({
      ...request,
      auth: { type: 'm.login.registration_token', token: 'ONEUSE' },
    });
    expect(first.registrationToken).toBe('ONEUSE');
    expect(await token()).toMatchObject({ pending: 1, completed: 0 });
    expect(await services.registrationTokens.isValid('ONEUSE')).toBe(false);
    // The one use is held: a second registration cannot take it.
    const second = await challengeOf(
      services.uia.authorise({
        ...request,
        auth: { type: 'm.login.registration_token', token: 'ONEUSE' },
      }),
    );
    expect(second.toJSON()).toMatchObject({ errcode: 'M_UNAUTHORIZED' });

    // The session expires unused: the next session to start gives the use back.
    clock.advance(UIA_SESSION_LIFETIME_MS + 1);
    await challengeOf(services.uia.authorise(request));
    expect(await token()).toMatchObject({ pending: 0, completed: 0 });

    const third = await services.uia.authorise({
      ...request,
      auth: { type: 'm.login.registration_token', token: 'ONEUSE' },
    });
    await services.registration.createAccount({
      localpart: 'carol',
      isAdmin: false,
      isGuest: false,
      authorisation: third,
    });
    expect(await token()).toMatchObject({ pending: 0, completed: 1 });
  });

  it('leaves the session and its token use in place when the action fails', async () => {
    const { services, db } = await setup('token');
    await services.registrationTokens.create({ token: 'TOK', usesAllowed: 5 });
    const authorisation = await services.uia.authorise({
      action: 'POST /register',
      flows: services.registration.flows(),
      auth: { type: 'm.login.registration_token', token: 'TOK' },
      userId: null,
    });
    // "alice" exists: the registration fails after the auth was committed in its transaction.
    await expect(
      services.registration.createAccount({
        localpart: 'alice',
        isAdmin: false,
        isGuest: false,
        authorisation,
      }),
    ).rejects.toMatchObject({ errcode: 'M_USER_IN_USE' });
    expect(await db.read((d) => selectRegistrationToken(d, 'TOK'))).toMatchObject({
      pending: 1,
      completed: 0,
    });
    const retry = await services.uia.authorise({
      action: 'POST /register',
      flows: services.registration.flows(),
      auth: { session: authorisation.sessionId },
      userId: null,
    });
    expect(retry.registrationToken).toBe('TOK');
  });
});
