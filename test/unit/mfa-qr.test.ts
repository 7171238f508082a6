/**
 * The QR code an authenticator app scans (issue #22) says exactly the otpauth:// URI the
 * page prints: the SVG the console serves is drawn into pixels module by module and read
 * back with jsQR, an independent decoder, so an encoder that wrote a different or damaged
 * code would fail here, and the secret inside it is the one the page shows to type by hand.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import jsqrModule from 'jsqr';
import { qrSvg } from '../../worker/mfa/qr-svg.ts';
import { consolePerson } from '../fixtures/console-http.ts';
import { type InProcess, startInProcess } from '../fixtures/in-process.ts';
import { addAuthenticator } from '../fixtures/two-step.ts';

let app: InProcess;
before(async () => {
  app = await startInProcess();
});
after(() => app?.close());

// jsqr is CommonJS typed as `export default`: under Node's ESM its default import is module.exports, the function itself.
const jsQR = jsqrModule as unknown as typeof jsqrModule.default;

/** Pixels per QR module when drawing the SVG's squares. */
const SCALE = 4;

/** Draws the SVG's unit squares (`M x y h1v1h-1z` in a `size`-unit viewBox) black on white, RGBA. */
function rasterize(svg: string): { data: Uint8ClampedArray; width: number } {
  const size = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)?.[1]);
  assert.ok(size > 0, 'a square viewBox');
  const width = size * SCALE;
  const data = new Uint8ClampedArray(width * width * 4).fill(255);
  for (const [, x, y] of svg.matchAll(/M(\d+) (\d+)h1v1h-1z/g)) {
    for (let dy = 0; dy < SCALE; dy++) {
      for (let dx = 0; dx < SCALE; dx++) {
        const at = ((Number(y) * SCALE + dy) * width + Number(x) * SCALE + dx) * 4;
        data.fill(0, at, at + 3);
      }
    }
  }
  return { data, width };
}

const decode = (svg: string) => {
  const { data, width } = rasterize(svg);
  return jsQR(data, width, width)?.data ?? null;
};

test('the enrollment page’s QR code decodes to the URI it prints, carrying the secret it shows', async () => {
  const person = await consolePerson(app.base, 'scan@qr.example');
  const added = await addAuthenticator(person);
  assert.equal(added.status, 201);
  const svg = /<svg [^>]*class="qr"[\s\S]*?<\/svg>/.exec(added.html)?.[0] ?? '';
  const printed = /<code id="totp-uri">([^<]+)<\/code>/.exec(added.html)?.[1]?.replace(/&amp;/g, '&');
  const secret = /<code id="totp-secret">([A-Z2-7]+)<\/code>/.exec(added.html)?.[1];
  assert.ok(printed && secret);
  assert.equal(decode(svg), printed);
  assert.equal(new URL(printed).searchParams.get('secret'), secret);
});

test('the encoder round-trips URIs of every length an app may get, and a damaged code does not read as the URI', () => {
  for (const uri of [
    'otpauth://totp/x:a%40b.c?secret=JBSWY3DPEHPK3PXP&issuer=x',
    `otpauth://totp/${'Long%20Product'.repeat(6)}:${'someone'.repeat(8)}%40example.com?secret=${'A'.repeat(32)}&issuer=${'Long%20Product'.repeat(6)}&algorithm=SHA1&digits=6&period=30`,
  ]) {
    assert.equal(decode(qrSvg(uri, 'code')), uri);
  }
  const svg = qrSvg('otpauth://totp/x:a%40b.c?secret=JBSWY3DPEHPK3PXP&issuer=x', 'code');
  // Without its finder patterns' squares no decoder finds a code at all.
  const damaged = svg.replace(/M(\d) (\d)h1v1h-1z/g, '');
  assert.notEqual(decode(damaged), decode(svg));
});
