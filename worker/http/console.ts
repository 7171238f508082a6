/**
 * Who is at the console: the browser's sign-in turned into the same principal a person's
 * whole sign-in is on the /v1 API (no org, no project), so every console action runs the
 * same role checks and audit as its API route. Posts are CSRF-checked here, once.
 */
import type { Context } from 'hono';
import { OAuthError } from '../../shared/errors.ts';
import type { AuditSource } from '../accounts/audit.ts';
import { type ActiveWebSession, approvalRefusal, WEB_SESSION_SECONDS } from '../accounts/web-sessions.ts';
import type { AppEnv } from '../app.ts';
import { isOperator, type Principal } from '../policy/roles.ts';
import { storeKey } from '../store/store.ts';
import { generateId } from '../tokens/opaque.ts';
import { assertCsrf, csrfToken, readWebSession } from './browser.ts';
import { readForm } from './form.ts';

export type ConsolePerson = Extract<Principal, { kind: 'user' }>;

export type ConsoleUser = {
  session: ActiveWebSession;
  principal: ConsolePerson;
  /** What the person's changes are recorded under in the audit trail. */
  source: AuditSource;
  /** The CSRF token every form on the page carries. */
  csrf: string;
  operator: boolean;
  /**
   * Whether this browser's sign-in may do a sensitive act: recent, and with the person's
   * second factor if they have one (one signed in before they enrolled gave none, however
   * recent: the API's step-up would ask it of that person's tokens). Asked only by a
   * sensitive act, then kept for the rest of the request.
   */
  recentSignIn: () => Promise<boolean>;
};

/** The signed-in person, or null (a page then shows the sign-in form). */
export async function consoleUser(c: Context<AppEnv>): Promise<ConsoleUser | null> {
  const session = await readWebSession(c);
  if (!session) return null;
  const principal: ConsolePerson = {
    kind: 'user',
    sub: session.sub,
    email: session.email,
    sid: null,
    org: null,
    project: null,
    // What this browser's sign-in proved, as a token's `amr` says it: an org that requires two-step sign-in asks it.
    mfa: session.amr.includes('mfa'),
  };
  let recent: Promise<boolean> | undefined;
  return {
    session,
    principal,
    source: { actor: principal.email ?? principal.sub, requestId: c.var.requestId },
    csrf: await csrfToken(c),
    operator: isOperator(c.var.services.config.operators, principal),
    // The person's factors are read only when an act asks, and only while the sign-in is recent.
    recentSignIn: () => (recent ??= approvalRefusal(c.var.services, session).then((refusal) => refusal === null)),
  };
}

/**
 * A console form post: the CSRF token checked before anything else is read or done, then
 * the sign-in. Every state-changing console route starts here.
 */
export async function consolePost(c: Context<AppEnv>): Promise<{ form: Record<string, string>; user: ConsoleUser }> {
  const form = await readForm(c);
  await assertCsrf(c, form.csrf);
  const user = await consoleUser(c);
  if (!user) throw new OAuthError('access_denied', 'your sign-in expired; sign in again and repeat the action', { status: 403 });
  return { form, user };
}

/** Whether the person proved who they are recently enough, and with their second factor if they have one, for a sensitive action. */
export const signedInRecently = (_c: Context<AppEnv>, user: ConsoleUser): Promise<boolean> => user.recentSignIn();

/**
 * The gate of ending someone else's session from the console (an operator): the API asks a
 * step-up for it, so the console asks a recent sign-in, as for its other sensitive acts.
 */
export const othersSessionGate = (c: Context<AppEnv>, user: ConsoleUser) => async () => {
  if (!(await signedInRecently(c, user)))
    throw new OAuthError(
      'access_denied',
      "ending someone else's session needs a recent sign-in (with your second factor, if you have one): sign in again, then end it again",
      { status: 403 },
    );
};

/** A fresh id for a form whose post must act once: a reload of its answer posts it again. */
export const newFormId = () => generateId('frm_');

/**
 * True the first time this browser's sign-in posts the form with this id, false on any
 * repost. Called just before the act (after every check that could send the person back to
 * correct the form), so a refused post can be corrected and sent again. A post without an
 * id (a script, not the page) acts as the API would: the id guards a reload, not a right.
 */
export async function firstPostOf(c: Context<AppEnv>, user: ConsoleUser, formId: string | undefined): Promise<boolean> {
  if (formId === undefined) return true;
  if (!/^frm_[\w-]{20}$/.test(formId))
    throw new OAuthError('invalid_request', 'the form is out of date; reload the page and fill it in again');
  const { store, hasher } = c.var.services;
  const key = storeKey('consoleForm', await hasher.hash('cf', `${user.session.key}\0${formId}`));
  return store.swap(key, null, '1', WEB_SESSION_SECONDS);
}

/** The console's answer to a finished post: back to a page, with a notice from a fixed list (never free text from the URL). */
export function backTo(c: Context<AppEnv>, path: string, notice?: string) {
  c.header('Cache-Control', 'no-store');
  return c.redirect(notice ? `${path}?notice=${encodeURIComponent(notice)}` : path, 303);
}
