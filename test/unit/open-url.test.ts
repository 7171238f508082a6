/**
 * cli/open-url.ts: which URLs from a server the CLI opens or shows, and the argv that opens
 * one — checked for every platform here, Windows included, without running on it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CliError } from '../../cli/errors.ts';
import { browserCommand, ownUrl } from '../../packages/client/src/open-url.ts';

// A query a hostile server could put in its authorization endpoint: under `cmd /c start`,
// everything after `&` ran as a second command.
const URL_WITH_AMPERSAND = 'https://login.example/oauth/authorize?client_id=x&calc.exe&state=y';

test('Windows opens a URL through rundll32 with the URL one argv element, never through cmd', () => {
  const argv = browserCommand('win32', {}, URL_WITH_AMPERSAND);
  assert.deepEqual(argv, ['rundll32', 'url.dll,FileProtocolHandler', URL_WITH_AMPERSAND]);
  assert.equal(
    argv.some((part) => /^cmd(\.exe)?$/i.test(part) || part === '/c' || part === 'start'),
    false,
  );
});

test('macOS, Linux and LATCHKEY_BROWSER: the program, then the URL as one argument', () => {
  assert.deepEqual(browserCommand('darwin', {}, URL_WITH_AMPERSAND), ['open', URL_WITH_AMPERSAND]);
  assert.deepEqual(browserCommand('linux', {}, URL_WITH_AMPERSAND), ['xdg-open', URL_WITH_AMPERSAND]);
  assert.deepEqual(browserCommand('win32', { LATCHKEY_BROWSER: 'C:\\b.exe' }, URL_WITH_AMPERSAND), [
    'C:\\b.exe',
    URL_WITH_AMPERSAND,
  ]);
});

test('nothing but http(s) is handed to an opener', () => {
  for (const url of ['file:///etc/passwd', 'javascript:alert(1)', 'ms-settings:', 'smb://host/share']) {
    for (const platform of ['win32', 'darwin', 'linux']) {
      assert.throws(() => browserCommand(platform, {}, url), CliError, `${platform} ${url}`);
    }
  }
});

test('a server URL is accepted only if http(s) on the server’s own origin', () => {
  const server = 'http://127.0.0.1:8787';
  assert.equal(
    ownUrl(server, 'http://127.0.0.1:8787/oauth/authorize?x=1', 'x').href,
    'http://127.0.0.1:8787/oauth/authorize?x=1',
  );
  assert.equal(ownUrl('https://Auth.Example.com/', 'https://auth.example.com:443/device', 'x').pathname, '/device');
  for (const url of [
    'http://evil.example/oauth/authorize',
    'https://127.0.0.1:8787/oauth/authorize',
    'http://127.0.0.1:8788/oauth/authorize',
    'http://127.0.0.1:8787.evil.example/',
    'http://127.0.0.1@evil.example/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'not a url',
  ]) {
    assert.throws(
      () => ownUrl(server, url, 'authorization_endpoint'),
      (error: unknown) => error instanceof CliError && error.code === 'server_error' && !error.message.includes(url),
      url,
    );
  }
});
