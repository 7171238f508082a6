/**
 * Credentials in an AES-256-GCM file per context, beside the config, mode 0600. The key
 * comes either from a passphrase through scrypt, or from the OS keychain, which then only
 * holds one 32-byte key (no keychain size limits, one prompt at most).
 */
import { readFile, rm } from 'node:fs/promises';
import * as z from 'zod/mini';
import { type SecretStoreName, sealedPath, writeFileAtomic } from '../config.ts';
import { CliError } from '../errors.ts';
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

/** Where the file key comes from: a passphrase, or 32 bytes the keychain keeps. */
export type KeySource =
  | { source: 'scrypt'; passphrase: () => Promise<string> }
  | { source: 'keychain'; key: (create: boolean) => Promise<Buffer> };

export function encryptedFileStore(options: { dir: string; name: SecretStoreName; keySource: KeySource }): SecretStore {
  const { dir, keySource } = options;
  const pathOf = (context: string) => sealedPath(dir, context);

  /** Reading never creates a key; only writing a credential may. */
  const deriveKey = async (sealedKey: Sealed['key'] | null, create: boolean): Promise<{ key: Buffer; header: Sealed['key'] }> => {
    if (keySource.source === 'keychain') return { key: await keySource.key(create), header: { source: 'keychain' } };
    // Reading derives with the file's parameters (checked in read); writing always with today's.
    const params =
      sealedKey?.source === 'scrypt' ? sealedKey : { source: 'scrypt' as const, salt: toBase64(randomBytes(16)), ...SCRYPT };
    const passphrase = await keySource.passphrase();
    // node:crypto costs milliseconds to load; only a passphrase needs it (AES-GCM is WebCrypto's).
    const { scrypt } = await import('node:crypto');
    const key = await new Promise<Buffer>((resolve, reject) =>
      scrypt(
        passphrase,
        Buffer.from(params.salt, 'base64'),
        32,
        { N: params.N, r: params.r, p: params.p, maxmem: maxmem(params.N, params.r) },
        (error, derived) => (error ? reject(error) : resolve(derived)),
      ),
    );
    return { key, header: { source: 'scrypt', salt: params.salt, N: params.N, r: params.r, p: params.p } };
  };

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
      throw new CliError('secret_file_corrupt', `${path} is corrupt; it was left as it is — remove it and log in again`);
    }
  };

  return {
    name: options.name,
    async read(context) {
      const path = pathOf(context);
      const sealed = await readSealed(path);
      if (!sealed) return null;
      if (sealed.key.source !== keySource.source) {
        throw new CliError(
          'secret_file_corrupt',
          `${path} was sealed with a ${sealed.key.source} key, not a ${keySource.source} one`,
        );
      }
      if (sealed.key.source === 'scrypt' && !scryptParamsAllowed(sealed.key)) {
        const { N, r, p } = sealed.key;
        const { minN, minR, minP, maxNr, maxP } = SCRYPT_LIMITS;
        throw new CliError(
          'secret_file_corrupt',
          `${path} asks for scrypt N=${N} r=${r} p=${p}, outside what latchkey accepts ` +
            `(N a power of two >= ${minN}, r >= ${minR}, p ${minP}-${maxP}, N*r <= ${maxNr}); ` +
            'it was not opened and may have been tampered with — remove it and log in again',
        );
      }
      const { key } = await deriveKey(sealed.key, false);
      let plain: string;
      try {
        const aes = await crypto.subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt']);
        // WebCrypto takes the tag at the end of the ciphertext; the file keeps them apart.
        const sealedBytes = Buffer.concat([Buffer.from(sealed.data, 'base64'), Buffer.from(sealed.tag, 'base64')]);
        const opened = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: Buffer.from(sealed.iv, 'base64') }, aes, sealedBytes);
        plain = Buffer.from(opened).toString('utf8');
      } catch {
        // GCM cannot tell a wrong key from a tampered file; the key source says which is likelier.
        throw keySource.source === 'scrypt'
          ? new CliError('wrong_passphrase', `wrong passphrase for ${path} (LATCHKEY_SECRET_PASSPHRASE)`)
          : new CliError('secret_file_corrupt', `${path} does not open with the key in the keychain; remove it and log in again`);
      }
      const credential = StoredCredential.safeParse(JSON.parse(plain));
      if (!credential.success) throw new CliError('secret_file_corrupt', `${path} holds an unexpected credential shape`);
      return credential.data;
    },
    async write(context, credential) {
      const path = pathOf(context);
      // A fresh salt and today's parameters, never the old file's: its header may have been weakened.
      const { key, header } = await deriveKey(null, true);
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
    async remove(context) {
      await rm(pathOf(context), { force: true });
    },
  };
}
