/**
 * Prints secrets for `wrangler secret put`:
 *   npm run -s keys:generate                 a JSON array holding one fresh Ed25519 private JWK
 *   npm run -s keys:generate -- --hash-secret  a random 256-bit LATCHKEY_HASH_SECRET
 * The secret goes to stdout only, so it can be piped straight into wrangler.
 */

import { base64url, randomBytes } from '../worker/tokens/opaque.ts';
import { generateSigningKey } from '../worker/tokens/signing-keys.ts';

const args = process.argv.slice(2);
if (args.includes('--help') || args.some((arg) => arg !== '--hash-secret')) {
  process.stderr.write(
    'usage: npm run -s keys:generate [-- --hash-secret]\n' +
      '  prints a fresh private signing key (JSON array of JWKs) or a hash secret on stdout\n' +
      '  e.g.  npm run -s keys:generate | npx wrangler secret put LATCHKEY_SIGNING_KEYS\n',
  );
  process.exit(args.includes('--help') ? 0 : 2);
}
if (args.includes('--hash-secret')) {
  process.stdout.write(`${base64url(randomBytes(32))}\n`);
} else {
  process.stdout.write(`${JSON.stringify([await generateSigningKey()])}\n`);
  process.stderr.write('To rotate: put the new key first and keep the old one after it until its tokens expire.\n');
}
