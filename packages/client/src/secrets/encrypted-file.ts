/**
 * Credentials in an AES-256-GCM file per context, beside the config, mode 0600. The key
 * comes either from a passphrase through scrypt, or from the OS keychain, which then only
 * holds one 32-byte key (no keychain size limits, one prompt at most). A file keeps the
 * passphrase it was sealed with: a write over a file it opens seals with that passphrase,
 * and only a file being made asks for a new one (passphrase.ts holds that one to a rule).
 */
import { readFile, rm } from 'node:fs/promises';
import * as z from 'zod/mini';
import { type SecretStoreName, sealedPath, writeFileAtomic } from '../config.ts';
import { LatchkeyError } from '../errors.ts';
import { LATCHKEY, loginWith, type Product } from '../product.ts';
import { type SecretStore, StoredCredential } from './secret-store.ts';

/** scrypt cost: 2^15 x 8 x 1 is 32 MiB and tens of milliseconds, paid once per invocation. */
export const SCRYPT = { N: 2 ** 15, r: 8, p: 1 } as const;

/**
 * What a file's own header may ask for. The floor is today's cost: whoever could write
 * the file once must not weaken the key of every later login (and every write seals
 * with SCRYPT again, whatever the file said). The cap keeps a hostile header from asking
 * for gigabytes or minutes: N*r at most 4 times today's memory (128 MiB), p at most 4.
 */
export const SCRYPT_LIMITS = { minN: SCRYPT.N, minR: SCRYPT.r, minP: SCRYPT.p, maxNr: 4 * SCRYPT.N * SCRYPT.r, maxP: 4 };
/** scrypt's memory is about 128 * N * r bytes; node refuses anything over maxmem. */
const maxmem = (N: number, r: number) => 128 * N * r + 16 * 1024 * 1024;

/** Whether a header's scrypt parameters are ones latchkey derives a key with. */
export function scryptParamsAllowed({ N, r, p }: { N: number; r: number; p: number }): boolean {
  const { minN, minR, minP, maxNr, maxP } = SCRYPT_LIMITS;
  const integers = [N, r, p].every(Number.isSafeInteger);
  return integers && (N & (N - 1)) === 0 && N >= minN && r >= minR && p >= minP && N * r <= maxNr && p <= maxP;
}

const GCM_TAG_BYTES = 16;

const randomBytes = (length: number) => crypto.getRandomValues(new Uint8Array(length));
const toBase64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

const Sealed = z.object({
  v: z.literal(1),
  key: z.discriminatedUnion('source', [
    z.object({ source: z.literal('scrypt'), salt: z.string(), N: z.number(), r: z.number(), p: z.number() }),
    z.object({ source: z.literal('keychain') }),
  ]),
  iv: z.string(),
  tag: z.string(),
  data: z.string(),
});
type Sealed = z.infer<typeof Sealed>;

/** What a passphrase is asked for: to open an existing file (`attempt` counts from 1), or to seal a new one. */
export type PassphraseRequest = { path: string; purpose: 'open' | 'create'; attempt: number };

/** Where the file key comes from: a passphrase, or 32 bytes the keychain keeps. */
export type KeySource =
  | {
      source: 'scrypt';
      passphrase: (request: PassphraseRequest) => Promise<string>;
      /** How many passphrases an existing file is tried with before giving up (default 1). */
      tries?: number;
      /** Where the passphrase came from, for the error after the last try. */
      origin?: string;
    }
  | { source: 'keychain'; key: (create: boolean) => Promise<Buffer> };

export function encryptedFileStore(options: {
  dir: string;
  name: SecretStoreName;
  keySource: KeySource;
  product?: Product;
}): SecretStore {
  const { dir, keySource } = options;
  const product = options.product ?? LATCHKEY;
  const pathOf = (context: string) => sealedPath(dir, context);
  /**
   * The passphrase each file opened (or was sealed) with in this process, so a refresh —
   * read, read again under the lock, write — asks once, and a write over a file seals with
   * the passphrase it already had.
   */
  const known = new Map<string, string>();

  const scryptKey = async (passphrase: string, params: { salt: string; N: number; r: number; p: number }) => {
    // node:crypto costs milliseconds to load; only a passphrase needs it (AES-GCM is WebCrypto's).
    const { scrypt } = await import('node:crypto');
    return new Promise<Buffer>((resolve, reject) =>
      scrypt(
        passphrase,
        Buffer.from(params.salt, 'base64'),
        32,
        { N: params.N, r: params.r, p: params.p, maxmem: maxmem(params.N, params.r) },
        (error, derived) => (error ? reject(error) : resolve(derived)),
      ),
    );
  };

  /** The plain text, or null when GCM refuses the key (it cannot tell a wrong key from a tampered file). */
  const decrypt = async (sealed: Sealed, key: Buffer): Promise<string | null> => {
    try {
      const aes = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt']);
      // WebCrypto takes the tag at the end of the ciphertext; the file keeps them apart.
      const sealedBytes = Buffer.concat([Buffer.from(sealed.data, 'base64'), Buffer.from(sealed.tag, 'base64')]);
      const opened = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: Buffer.from(sealed.iv, 'base64') }, aes, sealedBytes);
      return Buffer.from(opened).toString('utf8');
    } catch {
      return null;
    }
  };

  /** Opens a file whose header was checked: the keychain's key, or passphrases up to the key source's tries. */
  const open = async (context: string, path: string, sealed: Sealed): Promise<string> => {
    const header = sealed.key;
    if (keySource.source === 'keychain' || header.source === 'keychain') {
      const plain = keySource.source === 'keychain' ? await decrypt(sealed, await keySource.key(false)) : null;
      if (plain !== null) return plain;
      throw new LatchkeyError(
        'secret_file_corrupt',
        `${path} does not open with the key in the keychain; remove it and log in again`,
      );
    }
    const remembered = known.get(path);
    if (remembered !== undefined) {
      const plain = await decrypt(sealed, await scryptKey(remembered, header));
      if (plain !== null) return plain;
      known.delete(path); // another process sealed it anew meanwhile
    }
    const tries = keySource.tries ?? 1;
    for (let attempt = 1; attempt <= tries; attempt++) {
      const passphrase = await keySource.passphrase({ path, purpose: 'open', attempt });
      const plain = await decrypt(sealed, await scryptKey(passphrase, header));
      if (plain !== null) {
        known.set(path, passphrase);
        return plain;
      }
    }
    throw new LatchkeyError(
      'wrong_passphrase',
      `wrong passphrase for ${path}${keySource.origin ? ` (${keySource.origin})` : ''}; if it is lost, ` +
        `\`${product.command} contexts remove ${context}\` forgets the file and \`${loginWith(product, context)}\` makes a new one`,
    );
  };

  /** The file, or null when there is none; a file that is not a sealed file is corrupt. */
  const readSealed = async (path: string): Promise<Sealed | null> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      return Sealed.parse(JSON.parse(text));
    } catch {
      throw new LatchkeyError('secret_file_corrupt', `${path} is corrupt; it was left as it is — remove it and log in again`);
    }
  };

  /**
   * The passphrase a write seals with: the one the file opens with where there is a file
   * this key source can open (so one file keeps one passphrase, and an old one keeps
   * working), else a new one — held to the rule by the key source. A file that cannot be
   * one of ours (corrupt, another key source, a header outside the limits) is replaced.
   */
  const sealingPassphrase = async (context: string, path: string): Promise<string> => {
    const remembered = known.get(path);
    if (remembered !== undefined) return remembered;
    const existing = await readSealed(path).catch(() => null);
    if (existing?.key.source === 'scrypt' && scryptParamsAllowed(existing.key)) {
      await open(context, path, existing);
      return known.get(path) as string;
    }
    if (keySource.source !== 'scrypt') throw new Error('only a passphrase key source seals with a passphrase');
    const chosen = await keySource.passphrase({ path, purpose: 'create', attempt: 1 });
    known.set(path, chosen);
    return chosen;
  };

  return {
    name: options.name,
    async read(context) {
      const path = pathOf(context);
      const sealed = await readSealed(path);
      if (!sealed) return null;
      if (sealed.key.source !== keySource.source) {
        throw new LatchkeyError(
          'secret_file_corrupt',
          `${path} was sealed with a ${sealed.key.source} key, not a ${keySource.source} one`,
        );
      }
      if (sealed.key.source === 'scrypt' && !scryptParamsAllowed(sealed.key)) {
        const { N, r, p } = sealed.key;
        const { minN, minR, minP, maxNr, maxP } = SCRYPT_LIMITS;
        throw new LatchkeyError(
          'secret_file_corrupt',
          `${path} asks for scrypt N=${N} r=${r} p=${p}, outside what ${product.appName} accepts ` +
            `(N a power of two >= ${minN}, r >= ${minR}, p ${minP}-${maxP}, N*r <= ${maxNr}); ` +
            'it was not opened and may have been tampered with — remove it and log in again',
        );
      }
      const plain = await open(context, path, sealed);
      const credential = StoredCredential.safeParse(JSON.parse(plain));
      if (!credential.success) throw new LatchkeyError('secret_file_corrupt', `${path} holds an unexpected credential shape`);
      return credential.data;
    },
    async write(context, credential) {
      const path = pathOf(context);
      // A fresh salt and today's parameters, never the old file's: its header may have been weakened.
      let key: Buffer;
      let header: Sealed['key'];
      if (keySource.source === 'keychain') {
        key = await keySource.key(true);
        header = { source: 'keychain' };
      } else {
        const params = { salt: toBase64(randomBytes(16)), ...SCRYPT };
        key = await scryptKey(await sealingPassphrase(context, path), params);
        header = { source: 'scrypt', ...params };
      }
      const iv = randomBytes(12);
      const aes = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt']);
      const out = new Uint8Array(
        await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, aes, new TextEncoder().encode(JSON.stringify(credential))),
      );
      const sealed: Sealed = {
        v: 1,
        key: header,
        iv: toBase64(iv),
        tag: toBase64(out.subarray(out.length - GCM_TAG_BYTES)),
        data: toBase64(out.subarray(0, out.length - GCM_TAG_BYTES)),
      };
      await writeFileAtomic(path, `${JSON.stringify(sealed)}\n`);
    },
    async prepare(context) {
      if (keySource.source === 'scrypt') await sealingPassphrase(context, pathOf(context));
    },
    async remove(context) {
      known.delete(pathOf(context));
      await rm(pathOf(context), { force: true });
    },
  };
}
