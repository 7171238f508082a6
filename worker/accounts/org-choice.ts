/**
 * Which org a sign-in is established for (issue #23): the one the client asked for
 * (`login --org`), else, for a person in several orgs, the one they pick on the consent
 * page, or none (all their orgs, as before). A session for an org acts in it only, and is
 * what that org's admins can see and end (DESIGN "Tenancy").
 */
import { OAuthError } from '../../shared/errors.ts';
import { Slug } from '../../shared/schemas.ts';
import type { Services } from '../services.ts';
import { orgsOf } from './orgs.ts';

/** The orgs to offer on a consent page: none when the client named one (it is shown, not chosen) or the person has no email. */
export async function orgChoices(services: Services, requested: string | null, email: string | null): Promise<string[]> {
  if (requested !== null || email === null) return [];
  return (await orgsOf(services, email)).sort();
}

/**
 * The org a consent page's answer establishes the sign-in for: the one the client asked for,
 * else the one the person picked (`picked`; empty or absent: none). A pick that differs from
 * the client's org, or is not a slug, is refused; membership is checked by the caller
 * (establishRefusal), as for an org the client asked for.
 */
export function chosenOrg(requested: string | null, picked: string | undefined): string | null {
  if (picked === undefined || picked === '') return requested;
  if (requested !== null && picked !== requested)
    throw new OAuthError('invalid_request', `this sign-in was asked for org "${requested}"; it cannot be approved for another`);
  const parsed = Slug.safeParse(picked);
  if (!parsed.success) throw new OAuthError('invalid_request', 'the org picked is not an org name');
  return parsed.data;
}
