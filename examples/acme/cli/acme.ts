#!/usr/bin/env node
/**
 * acme: Acme's own CLI, signing people in through Acme's latchkey deployment.
 *
 *   acme auth login [--server URL]   sign in (device flow: a code to confirm in a browser)
 *   acme auth status [--json]        who you are signed in as
 *   acme auth token                  print an access token, refreshed when it is about to expire
 *   acme auth logout                 end the session at the server and forget it here
 *   acme whoami                      call Acme's API (ACME_API_URL) with that token
 *
 * ACME_TOKEN, when set, is used instead of the stored sign-in (CI, scripts); ACME_SERVER
 * names another deployment; the sign-in lives in ~/.config/acme (ACME_CONFIG_DIR).
 */
import { createLatchkey, LatchkeyError, printable } from '@latchkey/client';

const acme = createLatchkey({
  appName: 'acme',
  server: 'https://auth.acme.dev',
  clientId: 'acme-cli',
  loginCommand: 'acme auth login',
});

const USAGE = 'usage: acme auth login|status|token|logout  |  acme whoami';
const say = (text: string) => process.stderr.write(`${text}\n`);
const [group, command, ...rest] = process.argv.slice(2);
const flag = (name: string) => rest.includes(`--${name}`);
const option = (name: string) => {
  const at = rest.indexOf(`--${name}`);
  return at >= 0 ? rest[at + 1] : undefined;
};

async function login() {
  const { user, server } = await acme.login({
    server: option('server'),
    method: 'device',
    onDeviceCode: (code) => {
      say(`Your one-time code: ${code.userCode}`);
      say(`Confirm it at: ${code.verificationUriComplete ?? code.verificationUri}`);
    },
  });
  // What the server says goes through printable: no terminal escape of its reaches the screen.
  say(`Signed in to ${server} as ${printable(user.email ?? user.sub)}`);
}

async function status() {
  const { user, source, server } = await acme.status();
  if (flag('json')) return console.log(JSON.stringify({ server, source, ...user }, null, 2));
  const via = source === 'env' ? ' (from ACME_TOKEN)' : '';
  console.log(printable(`${user.email ?? user.sub} on ${server}${via}, org ${user.org ?? 'none'}, scope ${user.scope}`));
}

async function whoami() {
  const api = process.env.ACME_API_URL ?? 'https://api.acme.dev';
  const response = await fetch(`${api}/v1/whoami`, { headers: { authorization: `Bearer ${await acme.token()}` } });
  const body = await response.text();
  if (!response.ok) throw new Error(`the Acme API said ${response.status}: ${body.slice(0, 300)}`);
  console.log(printable(body));
}

const commands: Record<string, () => Promise<unknown>> = {
  'auth login': login,
  'auth status': status,
  'auth token': async () => console.log(await acme.token()),
  'auth logout': async () => {
    const { revoked } = await acme.logout();
    say(revoked ? 'Signed out; the session is ended at the server.' : 'Signed out here; the server was not reached.');
  },
  whoami,
};

const run = commands[[group, command].filter(Boolean).join(' ')];
if (!run) {
  say(USAGE);
  process.exit(2);
}
run().catch((error: unknown) => {
  say(`acme: ${printable(error instanceof Error ? error.message : String(error))}`);
  process.exit(error instanceof LatchkeyError ? 1 : 70);
});
