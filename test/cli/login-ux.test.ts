/**
 * Sign-in and context UX of the compiled `latchkey` against the running Worker: a new
 * encrypted file's passphrase chosen, held to the rule and confirmed at a real terminal (a
 * pseudo-terminal from util-linux `script`) before anyone approves, and an existing one
 * retried; `--with-token` never quietly replacing a person's sign-in; logout and
 * `contexts remove` of the current context leaving the one left current or saying how to
 * choose; an offline logout naming the session still live and the command that ends it
 * (then run for real); a DISPLAY with no X server, or an opener that fails, falling back to
 * the device flow at once; and `npm start -- --port N` serving an issuer on that port.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { encryptedFileStore } from '../../packages/client/src/secrets/encrypted-file.ts';
import { PASSPHRASE_RULE } from '../../packages/client/src/secrets/passphrase.ts';
import {
  BINARY,
  buildCli,
  cleanEnv,
  cliDeviceLogin,
  exitOf,
  runCli,
  runCliWithin,
  startCli,
  tempConfigDir,
  tempDir,
  waitForStderr,
} from '../fixtures/cli-runner.ts';
import { FormBrowser, refresh } from '../fixtures/oauth-client.ts';
import { freePort, type RunningWorker, startWorker } from '../fixtures/worker-server.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const PASSPHRASE = 'correct horse battery staple';
let worker: RunningWorker;

before(async () => {
  buildCli();
  worker = await startWorker({ LATCHKEY_DEVICE_POLL_INTERVAL: '1s' });
});
after(async () => {
  await worker?.stop();
});

const sealed = (dir: string, passphrase: string) =>
  encryptedFileStore({ dir, name: 'encrypted-file', keySource: { source: 'scrypt', passphrase: async () => passphrase } });

/** A device login of `email` into context `name`, the code approved in the Worker's own pages. */
async function login(env: Record<string, string>, name: string, email: string) {
  const result = await cliDeviceLogin(
    ['login', '--device', '--server', worker.url, '--name', name, '--secret-store', 'encrypted-file'],
    env,
    { server: worker.url, email },
  );
  assert.equal(result.code, 0, result.stderr);
  return result;
}

const freshEnv = async (extra: Record<string, string> = {}) => {
  const dir = await tempConfigDir();
  return { dir, env: cleanEnv({ HOME: dir, LATCHKEY_CONFIG_DIR: dir, ...extra }) };
};

/**
 * The compiled CLI at a real terminal: `script` runs it on a pseudo-terminal, so stdin and
 * stderr are TTYs, the passphrase prompt switches to raw mode and reads what is "typed".
 */
class Terminal {
  readonly child: ChildProcess;
  readonly done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  private seen = '';
  private read = 0;
  constructor(args: string[], env: Record<string, string>) {
    const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
    this.child = spawn('script', ['-qefc', [BINARY, ...args].map(quote).join(' '), '/dev/null'], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk) => {
      this.seen += chunk;
    });
    this.done = exitOf(this.child);
  }
  /** Waits for `pattern` in what the terminal shows after the last match; returns the match. */
  async expect(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.seen.slice(this.read));
      if (match) {
        this.read += match.index + match[0].length;
        return match;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in:\n${this.seen}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  type(line: string): void {
    this.child.stdin?.write(`${line}\r`);
  }
  get screen(): string {
    return this.seen;
  }
}

const ptyAvailable = spawnSync('script', ['-qec', 'true', '/dev/null'], { stdio: 'ignore' }).status === 0;

describe('the encrypted file’s passphrase', { skip: !ptyAvailable && 'no `script` (util-linux) for a pseudo-terminal' }, () => {
  let dir: string;
  let env: Record<string, string>;
  const chosen = 'violet kettle 42 sunrise';
  before(async () => {
    ({ dir, env } = await freshEnv());
  });

  test('first login at a terminal: a NEW passphrase, held to the rule and typed twice, asked before the code is shown; three tries', async () => {
    const terminal = new Terminal(['login', '--device', '--server', worker.url, '--secret-store', 'encrypted-file'], env);
    const path = join(dir, 'secrets', 'default.enc');
    await terminal.expect(new RegExp(`Choose a passphrase for the encrypted file ${path}`));
    assert.doesNotMatch(terminal.screen, /check that it shows the code/, 'asked before anyone approves');
    terminal.type('x');
    await terminal.expect(
      /That passphrase is too weak: it has 1 character, fewer than 12\.\r?\nChoose a passphrase.*\(try 2 of 3\)/,
    );
    terminal.type(chosen);
    await terminal.expect(/Type it again to confirm: /);
    terminal.type(`${chosen}!`);
    await terminal.expect(/The two entries differ\.\r?\nChoose a passphrase.*\(try 3 of 3\)/);
    terminal.type(chosen);
    await terminal.expect(/Type it again to confirm: /);
    terminal.type(chosen);
    const [, code] = await terminal.expect(/check that it shows the code\s+([A-Z]{4}-[A-Z]{4})/);
    await new FormBrowser(worker.url).decide(String(code), 'approve', 'ada@example.com');
    terminal.child.stdin?.end();
    const result = await terminal.done;
    assert.equal(result.code, 0, terminal.screen);
    assert.match(terminal.screen, /Logged in to .* as ada@example\.com/);
    assert.doesNotMatch(terminal.screen, new RegExp(chosen), 'nothing typed is echoed');
    assert.ok(await sealed(dir, chosen).read('default'), 'the file opens with the passphrase chosen');
  });

  test('at the prompt, backspace (DEL or BS) and Ctrl-U edit what is typed, and Ctrl-D cancels with nothing stored', {
    timeout: 30_000,
  }, async () => {
    const typo = new Terminal(['token'], env);
    await typo.expect(/Passphrase for the encrypted file .*default\.enc: /);
    // A typo taken back with DEL, another with BS, a false start cleared with Ctrl-U.
    typo.type(`false start\u0015${chosen}X\u007fY\b`);
    const typed = await typo.done;
    assert.equal(typed.code, 0, typo.screen);
    assert.match(typed.stdout, /^ey|^lk_/m, 'the token, with the passphrase as corrected');

    const fresh = await freshEnv();
    const quit = new Terminal(['login', '--device', '--server', worker.url, '--secret-store', 'encrypted-file'], fresh.env);
    await quit.expect(/Choose a passphrase for the encrypted file/);
    quit.child.stdin?.write('half typed\u0004');
    const result = await quit.done;
    assert.equal(result.code, 130, quit.screen);
    assert.doesNotMatch(quit.screen, /check that it shows the code/);
    await assert.rejects(stat(join(fresh.dir, 'secrets', 'default.enc')));
  });

  test('three passphrases that fail the rule or differ: exit 5, nothing stored, no code ever shown', async () => {
    const fresh = await freshEnv();
    const terminal = new Terminal(['login', '--device', '--server', worker.url, '--secret-store', 'encrypted-file'], fresh.env);
    for (const typed of [['aaaaaaaaaaaaaaaa'], ['abcdefghijklmnop'], [chosen, 'not the same at all']]) {
      await terminal.expect(/Choose a passphrase for the encrypted file/);
      terminal.type(typed[0] as string);
      if (typed[1]) {
        await terminal.expect(/Type it again/);
        terminal.type(typed[1]);
      }
    }
    terminal.child.stdin?.end();
    const result = await terminal.done;
    assert.equal(result.code, 5, terminal.screen);
    assert.match(terminal.screen, /one character repeated/);
    assert.match(terminal.screen, /a run of consecutive characters/);
    assert.match(
      terminal.screen,
      /no passphrase chosen for .*default\.enc in 3 tries \(the two entries differed\); nothing was stored/,
    );
    assert.doesNotMatch(terminal.screen, /check that it shows the code/);
    await assert.rejects(stat(join(fresh.dir, 'config.json')));
    await assert.rejects(stat(join(fresh.dir, 'secrets', 'default.enc')));
  });

  test('opening the file at a terminal: three tries, and the error does not blame LATCHKEY_SECRET_PASSPHRASE', async () => {
    const retried = new Terminal(['token'], env);
    await retried.expect(/Passphrase for the encrypted file .*default\.enc: /);
    retried.type('wrong one');
    await retried.expect(/Wrong passphrase \(try 2 of 3\)\. Passphrase for the encrypted file/);
    retried.type('wrong two');
    await retried.expect(/Wrong passphrase \(try 3 of 3\)/);
    retried.type(chosen);
    retried.child.stdin?.end();
    const ok = await retried.done;
    assert.equal(ok.code, 0, retried.screen);
    assert.match(retried.screen, /eyJ[\w-]+\.[\w-]+\.[\w-]+/);

    const refused = new Terminal(['token'], env);
    for (let attempt = 1; attempt <= 3; attempt++) {
      await refused.expect(/Passphrase for the encrypted file/);
      refused.type(`wrong ${attempt}`);
    }
    refused.child.stdin?.end();
    const result = await refused.done;
    assert.equal(result.code, 5, refused.screen);
    assert.match(refused.screen, /wrong passphrase for .*default\.enc \(typed 3 times\)/);
    assert.match(refused.screen, /latchkey contexts remove default/);
    assert.doesNotMatch(refused.screen, /LATCHKEY_SECRET_PASSPHRASE/);
  });

  test('LATCHKEY_SECRET_PASSPHRASE=x cannot make a file (refused before the sign-in, naming the rule) but opens one made with it', async () => {
    const fresh = await freshEnv({ LATCHKEY_SECRET_PASSPHRASE: 'x' });
    const refused = await runCliWithin(
      ['login', '--device', '--server', worker.url, '--secret-store', 'encrypted-file'],
      fresh.env,
      10_000,
    );
    assert.equal(refused.timedOut, false);
    assert.equal(refused.code, 5, refused.stderr);
    assert.ok(refused.stderr.includes(`a new passphrase needs ${PASSPHRASE_RULE}`), refused.stderr);
    assert.match(refused.stderr, /LATCHKEY_SECRET_PASSPHRASE is too weak to seal a new file .*default\.enc/);
    assert.doesNotMatch(refused.stderr, /check that it shows the code/);
    await assert.rejects(stat(join(fresh.dir, 'config.json')));

    // A file sealed with "x" before the rule existed keeps opening with it, and a new login
    // into that context keeps its passphrase.
    const old = await freshEnv({ LATCHKEY_SECRET_PASSPHRASE: 'x' });
    const sealedWithX = sealed(old.dir, 'x');
    await sealedWithX.write('default', { access_token: 'lk_old_token', refresh_token: null, expires_at: null });
    const context = {
      server: worker.url,
      clientId: 'latchkey-cli',
      secretStore: 'encrypted-file',
      secretStoreReason: 'made before the rule',
      user: { sub: 'usr_x', email: 'x@example.com' },
      kind: 'api_key',
      org: null,
      project: null,
      createdAt: new Date().toISOString(),
    };
    await writeFile(
      join(old.dir, 'config.json'),
      JSON.stringify({ version: 1, current: 'default', contexts: { default: context } }),
    );
    const token = await runCli(['token'], old.env);
    assert.deepEqual([token.code, token.stdout], [0, 'lk_old_token\n'], token.stderr);
    const relogin = await login(old.env, 'default', 'x@example.com');
    assert.match(relogin.stderr, /Logged in/);
    assert.ok((await sealed(old.dir, 'x').read('default'))?.refresh_token, 'the new login sealed with the same "x"');
  });
});

describe('login --with-token and the "default" context', () => {
  test('refused over a person’s sign-in (suggesting --name), replacing only an earlier pasted token for the same server', async () => {
    const { dir, env } = await freshEnv({ LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE });
    await login(env, 'default', 'ada@example.com');
    const access = (await runCli(['token'], env)).stdout.trim();
    const before = await readFile(join(dir, 'config.json'), 'utf8');

    const paste = (args: string[]) =>
      runCli(['login', '--with-token', '--server', worker.url, '--secret-store', 'encrypted-file', ...args], env, access);
    const refused = await paste([]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /context "default" holds the sign-in of ada@example\.com at http:\/\/127\.0\.0\.1:\d+/);
    assert.match(refused.stderr, /latchkey login --with-token --name NAME/);
    assert.equal(await readFile(join(dir, 'config.json'), 'utf8'), before, 'nothing changed');

    const named = await paste(['--name', 'pasted']);
    assert.equal(named.code, 0, named.stderr);
    const listed = JSON.parse((await runCli(['contexts', 'list', '--json'], env)).stdout);
    assert.deepEqual(listed.map((row: { name: string }) => row.name).sort(), ['default', 'pasted']);

    // Where "default" is itself a pasted token for this server, a new paste replaces it, and says so.
    const other = await freshEnv({ LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE });
    const first = await runCli(
      ['login', '--with-token', '--server', worker.url, '--secret-store', 'encrypted-file'],
      other.env,
      access,
    );
    assert.equal(first.code, 0, first.stderr);
    assert.doesNotMatch(first.stderr, /Replaced/);
    const again = await runCli(
      ['login', '--with-token', '--server', worker.url, '--secret-store', 'encrypted-file'],
      other.env,
      access,
    );
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /Replaced context "default" \(a token stored with --with-token for http:\/\/127\.0\.0\.1:\d+\)/);
  });
});

describe('the current context going away', () => {
  let dir: string;
  let env: Record<string, string>;
  before(async () => {
    ({ dir, env } = await freshEnv({ LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE }));
    await login(env, 'a', 'ada@example.com');
    await login(env, 'b', 'bob@example.com');
  });

  test('logout of the current context with one left: that one becomes current, said on stderr', async () => {
    const result = await runCli(['logout'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /Logged out of .* \(context "b" removed\)\.\nNow using context "a"\.\n/);
    const status = await runCli(['status', '--json'], env);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).email, 'ada@example.com');
  });

  test('with several left none is current: remove and logout say which there are and how to choose; status lists them', async () => {
    await login(env, 'c', 'ada@example.com');
    await login(env, 'd', 'ada@example.com');
    const removed = await runCli(['contexts', 'remove', 'd'], env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(
      removed.stderr,
      /No context is current now; the others are "a", "c"\. Choose one with `latchkey contexts use NAME`\./,
    );
    for (const args of [['status'], ['token']]) {
      const result = await runCli(args, env);
      assert.equal(result.code, 3, result.stderr);
      assert.match(result.stderr, /no context is current; there are "a", "c"\. Choose one with `latchkey contexts use NAME`/);
      assert.doesNotMatch(result.stderr, /not logged in/);
    }
    assert.equal((await runCli(['contexts', 'use', 'c'], env)).code, 0);
    assert.equal((await runCli(['status'], env)).code, 0);
    // A context that is not the current one goes without a word about the current one.
    const other = await runCli(['contexts', 'remove', 'a'], env);
    assert.doesNotMatch(other.stderr, /Now using|No context is current/);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    assert.equal(config.current, 'c');
  });

  test('offline logout names the session still live and how to end it; that command, run from another login, ends it', async () => {
    await login(env, 'e', 'ada@example.com'); // the other login, current now
    const secret = await sealed(dir, PASSPHRASE).read('c');
    assert.ok(secret?.refresh_token);
    const sid = String(decodeJwt(secret.access_token).sid);
    assert.match(sid, /^ses_/);
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    config.contexts.c.server = `http://127.0.0.1:${await freePort()}`; // nothing listens there
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));

    const result = await runCli(['logout', 'c'], env);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /warning: cannot reach .*; the server was not told/);
    assert.ok(
      result.stderr.includes(
        `the session ${sid} is still live on the server; end it from any other login with \`latchkey sessions revoke ${sid}\``,
      ),
      result.stderr,
    );
    assert.doesNotMatch(result.stderr, /until it expires/);
    assert.equal((await refresh(worker.url, secret.refresh_token)).status, 200, 'it was indeed still live');

    const revoke = await runCli(['sessions', 'revoke', sid, '--confirm'], env);
    assert.equal(revoke.code, 0, revoke.stderr);
    const dead = await refresh(worker.url, secret.refresh_token);
    assert.equal(dead.json.error, 'invalid_grant');
  });
});

describe('login where no browser can be shown falls back to the device flow at once', () => {
  /** Runs login without --device until the device code shows, then stops it: its stderr, and how long the code took. */
  async function fallback(extra: Record<string, string>): Promise<{ stderr: string; ms: number }> {
    const { env } = await freshEnv({ LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE, ...extra });
    const started = Date.now();
    const child = startCli(['login', '--server', worker.url, '--secret-store', 'encrypted-file'], env);
    const done = exitOf(child);
    child.stdin?.end();
    let ms = Number.POSITIVE_INFINITY;
    try {
      await waitForStderr(child, /check that it shows the code\s+[A-Z]{4}-[A-Z]{4}/, 10_000);
      ms = Date.now() - started;
    } finally {
      child.kill('SIGINT');
    }
    return { stderr: (await done).stderr, ms };
  }

  test('DISPLAY=:99 with no X server: the device code within two seconds, saying why', async () => {
    const { stderr, ms } = await fallback({ DISPLAY: ':99' });
    assert.ok(ms < 2000, `${ms} ms`);
    assert.match(
      stderr,
      /Could not open a browser; using the device flow instead \(DISPLAY=:99 but no X server answers at \/tmp\/\.X11-unix\/X99\)/,
    );
    assert.doesNotMatch(stderr, /Opened your browser/);
  });

  test('DISPLAY=127.0.0.1:N (as SSH forwarding sets) with nothing on port 6000+N; WAYLAND_DISPLAY with no socket', async () => {
    const port = await freePort();
    const display = `127.0.0.1:${port - 6000}.0`;
    const x = await fallback({ DISPLAY: display });
    assert.ok(x.stderr.includes(`DISPLAY=${display} but no X server answers at 127.0.0.1:${port}`), x.stderr);
    const runtime = await tempDir('latchkey-run-');
    const wayland = await fallback({ WAYLAND_DISPLAY: 'wayland-0', XDG_RUNTIME_DIR: runtime });
    assert.ok(
      wayland.stderr.includes(`WAYLAND_DISPLAY=wayland-0 but no compositor answers at ${runtime}/wayland-0`),
      wayland.stderr,
    );
  });

  test('an opener that fails at once (LATCHKEY_BROWSER=/bin/false): the device flow, naming its status', async () => {
    const { stderr, ms } = await fallback({ LATCHKEY_BROWSER: '/bin/false' });
    assert.ok(ms < 2500, `${ms} ms`);
    assert.match(stderr, /using the device flow instead \(\/bin\/false exited with status 1\)/);
  });

  test('the control: a display that answers and an opener that works get the browser, not the device flow', async () => {
    // Something listening where DISPLAY points, and an xdg-open on PATH that records the URL.
    const x = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => x.listen(0, '127.0.0.1', resolve));
    const port = (x.address() as { port: number }).port;
    const bin = await tempDir('latchkey-bin-');
    const opened = join(bin, 'opened');
    await writeFile(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`, { mode: 0o755 });
    try {
      const { env } = await freshEnv({
        LATCHKEY_SECRET_PASSPHRASE: PASSPHRASE,
        DISPLAY: `127.0.0.1:${port - 6000}`,
        PATH: `${bin}:${process.env.PATH}`,
      });
      const child = startCli(['login', '--server', worker.url, '--secret-store', 'encrypted-file'], env);
      const done = exitOf(child);
      child.stdin?.end();
      await waitForStderr(child, /Opened your browser/, 10_000);
      child.kill('SIGINT');
      const { stderr } = await done;
      assert.doesNotMatch(stderr, /device flow/);
      assert.match(await readFile(opened, 'utf8'), /\/oauth\/authorize\?/);
    } finally {
      x.close();
    }
  });
});

describe('npm start -- --port N', () => {
  test('listens on N with an issuer that names N', async () => {
    const [port, inspector] = [await freePort(), await freePort()];
    const state = await tempDir('latchkey-start-');
    const child = spawn(
      'npm',
      ['start', '--', '--port', String(port), '--inspector-port', String(inspector), '--persist-to', state],
      { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1', NO_COLOR: '1' } },
    );
    let output = '';
    child.stdout?.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr?.on('data', (chunk) => {
      output += chunk;
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      let metadata: { issuer?: string } | null = null;
      const deadline = Date.now() + 90_000;
      while (metadata === null && Date.now() < deadline && child.exitCode === null) {
        metadata = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server`)
          .then((response) => (response.ok ? (response.json() as Promise<{ issuer?: string }>) : null))
          .catch(() => null);
        if (metadata === null) await new Promise((resolve) => setTimeout(resolve, 250));
      }
      assert.ok(metadata, output);
      assert.equal(metadata.issuer, `http://127.0.0.1:${port}`);
      assert.equal((await stat(state)).mode & 0o077, 0, 'the state directory is private');
    } finally {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGTERM');
      } catch {}
      const killer = setTimeout(() => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }, 3000);
      await exited;
      clearTimeout(killer);
    }
  });

  test('a port that is not one is refused before wrangler starts', () => {
    const result = spawnSync('npm', ['start', '--silent', '--', '--port', '80a'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /npm start: not a port: "80a"/);
  });
});
