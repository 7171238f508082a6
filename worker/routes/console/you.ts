import { OAuthError } from '../../../shared/errors.ts';
import { InvitationId, SessionId } from '../../../shared/schemas.ts';
import { answerInvitation, invitationsFor } from '../../accounts/invitations.ts';
import { orgsFor } from '../../accounts/orgs.ts';
import { revokeSession, sessionOwner, sessionsSeenBy } from '../../accounts/sessions.ts';
import { endWebSession, listWebSessions, WebSessionPublicId } from '../../accounts/web-sessions.ts';
import { findClient } from '../../clients.ts';
import type { Config } from '../../config.ts';
import { endThisWebSession } from '../../http/browser.ts';
import { backTo, consolePost, othersSessionGate } from '../../http/console.ts';
import { parseInput } from '../../http/form.ts';
import { consolePage } from '../../pages/console/layout.ts';
import { youBody } from '../../pages/console/you.ts';
import { consoleSection, pageUser } from './env.ts';

/**
 * The You page: a person's own sessions, browsers, orgs and invitations. Every action is
 * the account function its /v1 route calls (revokeSession, answerInvitation), acting as
 * the whole person the browser signed in as.
 */
export const youConsole = consoleSection();

/** A client's name as its sign-in page showed it; an id no longer configured, as itself. */
export function clientNamer(config: Config): (id: string) => string {
  return (id) => {
    try {
      return findClient(config, id).name;
    } catch {
      return id;
    }
  };
}

youConsole.get('/console', async (c) => {
  const user = pageUser(c);
  const services = c.var.services;
  const { principal } = user;
  const [sessions, browsers, orgs, invitations] = await Promise.all([
    sessionsSeenBy(services, principal),
    listWebSessions(services, sessionOwner(principal)),
    orgsFor(services, principal),
    principal.email ? invitationsFor(services, principal.email) : [],
  ]);
  return consolePage(c, {
    user,
    title: 'You',
    at: { page: 'you' },
    body: youBody({
      csrf: user.csrf,
      email: principal.email,
      sessions,
      browsers,
      thisBrowser: user.session.publicId,
      orgs,
      invitations,
      clientName: clientNamer(services.config),
    }),
  });
});

/** The same as `POST /v1/sessions/{sid}/revoke`: one's own session; anyone else's answers as none (but to an operator). */
youConsole.post('/console/sessions/:sid/revoke', async (c) => {
  const { user } = await consolePost(c);
  const sid = parseInput(SessionId, c.req.param('sid'));
  await revokeSession(c.var.services, user.principal, sid, user.source, othersSessionGate(c, user));
  return backTo(c, '/console', 'session-revoked');
});

/** Ends one of the person's browser sign-ins; their own only (the index is theirs, and each record must name them). */
youConsole.post('/console/browsers/:id/end', async (c) => {
  const { user } = await consolePost(c);
  const id = parseInput(WebSessionPublicId, c.req.param('id'));
  if (!(await endWebSession(c.var.services, sessionOwner(user.principal), id)))
    throw new OAuthError('not_found', 'no such signed-in browser of yours; it may have signed out already');
  if (id === user.session.publicId) {
    await endThisWebSession(c);
    return backTo(c, '/console');
  }
  return backTo(c, '/console', 'browser-ended');
});

/** The same as `POST /v1/invitations/{id}/accept|decline`: only the person the invitation was made for answers it. */
youConsole.post('/console/invitations/:id/:answer{accept|decline}', async (c) => {
  const { user } = await consolePost(c);
  const email = user.principal.email;
  if (!email) throw new OAuthError('forbidden', 'invitations are answered by a person with a verified email');
  const answer = c.req.param('answer') === 'accept' ? 'accept' : 'decline';
  await answerInvitation(c.var.services, parseInput(InvitationId, c.req.param('id')), email, answer, user.source);
  return backTo(c, '/console', answer === 'accept' ? 'invitation-accepted' : 'invitation-declined');
});
