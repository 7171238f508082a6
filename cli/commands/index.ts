/**
 * Every command, by name, in the order `latchkey help` lists them: one line each. A
 * command's module loads only when it runs (or when help or completion needs them all),
 * except `token`'s: scripts run it in loops, and a dynamic import costs a cached run ~0.5 ms.
 */
import type { Command } from '../command.ts';
import { command as token } from './token.ts';

export type Entry = {
  /** One line for `latchkey help`. */
  summary: string;
  /** The heading `latchkey help` lists it under. */
  group: Group;
  load: () => Promise<Command>;
  /** Another name for a command listed under its own: completion offers it, help does not list it. */
  aliasOf?: string;
};

export const GROUPS = {
  session: 'Sign in and hand out tokens',
  tools: 'Tokens for other tools',
  org: 'Orgs (the /v1 API)',
  yours: 'Yours',
  shell: 'This CLI',
} as const;
type Group = keyof typeof GROUPS;

const load = (module: Promise<{ command: Command }>) => module.then((loaded) => loaded.command);

export const COMMANDS: Record<string, Entry> = {
  login: {
    summary: 'sign in (browser, device code, or an existing token)',
    group: 'session',
    load: () => load(import('./login.ts')),
  },
  status: {
    summary: 'which credential this invocation would use, and why',
    group: 'session',
    load: () => load(import('./status.ts')),
  },
  whoami: { summary: 'same as status', group: 'session', load: () => load(import('./status.ts')), aliasOf: 'status' },
  token: { summary: 'print a valid access token, refreshing silently', group: 'session', load: async () => token },
  logout: { summary: 'revoke at the server, then forget locally', group: 'session', load: () => load(import('./logout.ts')) },
  contexts: {
    summary: 'list, switch, show and remove named logins',
    group: 'session',
    load: () => load(import('./contexts.ts')),
  },
  ci: {
    summary: "trade a CI job's OIDC ID token for a short-lived token",
    group: 'tools',
    load: () => load(import('./ci-exchange.ts')),
  },
  exec: { summary: 'run a command with a fresh token in LATCHKEY_TOKEN', group: 'tools', load: () => load(import('./exec.ts')) },
  'credential-helper': { summary: "git's credential helper", group: 'tools', load: () => load(import('./credential-helper.ts')) },
  'setup-git': { summary: 'make git use latchkey for bound hosts', group: 'tools', load: () => load(import('./setup-git.ts')) },
  'docker-credential': { summary: "Docker's helper", group: 'tools', load: () => load(import('./docker-credential.ts')) },
  'setup-docker': { summary: 'bind registries for Docker', group: 'tools', load: () => load(import('./setup-docker.ts')) },
  'kube-credential': { summary: 'kubectl exec plugin', group: 'tools', load: () => load(import('./kube-credential.ts')) },
  orgs: {
    summary: 'list, create and show orgs; whether they require two-step sign-in',
    group: 'org',
    load: () => load(import('./orgs.ts')),
  },
  projects: { summary: "list and create an org's projects", group: 'org', load: () => load(import('./projects.ts')) },
  members: { summary: 'list members, change roles, invite, remove', group: 'org', load: () => load(import('./members.ts')) },
  keys: { summary: "create, list, rotate and revoke an org's API keys", group: 'org', load: () => load(import('./keys.ts')) },
  audit: { summary: "read and verify an org's audit trail", group: 'org', load: () => load(import('./audit.ts')) },
  policies: { summary: "manage and dry-run an org's CI trust policies", group: 'org', load: () => load(import('./policies.ts')) },
  domains: {
    summary: "claim and verify an org's email domains (DNS TXT)",
    group: 'org',
    load: () => load(import('./domains.ts')),
  },
  sso: {
    summary: "an org's own OpenID provider: set, test, enable, enforce",
    group: 'org',
    load: () => load(import('./sso.ts')),
  },
  invitations: {
    summary: 'your invitations: list, accept, decline',
    group: 'yours',
    load: () => load(import('./invitations.ts')),
  },
  sessions: {
    summary: 'your sign-ins (or an org’s, as its admin): list, end',
    group: 'yours',
    load: () => load(import('./sessions.ts')),
  },
  help: { summary: 'help for latchkey or for one command', group: 'shell', load: () => load(import('./help.ts')) },
  completion: {
    summary: 'a completion script for bash, zsh or fish',
    group: 'shell',
    load: () => load(import('./completion.ts')),
  },
};

/** ` (did you mean "keys"?)` for a near miss (one edit or one swap of neighbours away, or a prefix), else nothing. */
export function suggestion(name: string): string {
  if (name === '') return '';
  const near = Object.keys(COMMANDS).find((known) => known.startsWith(name) || withinOneEdit(known, name));
  return near ? ` (did you mean "${near}"?)` : '';
}

function withinOneEdit(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let index = 0;
  while (index < a.length && a[index] === b[index]) index++;
  const rest = (x: string, skip: number) => x.slice(index + skip);
  const swapped = a[index] === b[index + 1] && a[index + 1] === b[index] && rest(a, 2) === rest(b, 2);
  return swapped || rest(a, 1) === rest(b, 1) || rest(a, 1) === rest(b, 0) || rest(a, 0) === rest(b, 1);
}
