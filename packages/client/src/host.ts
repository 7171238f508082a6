/**
 * The file and stream operations of a cached `latchkey token`, whose whole budget over a
 * hello-world is ~3 ms. Compiled, the CLI runs on Bun, where loading node:fs costs ~0.6 ms
 * and touching process.stdout ~8 ms, while Bun's own file API costs nothing to load. From
 * source on Node, the same operations go through node:fs and process.stdout.
 */

import { LatchkeyError } from './errors.ts';

/** The slice of Bun's API used here (the project does not depend on Bun's types). */
type BunApi = {
  file(path: string): {
    text(): Promise<string>;
    stat(): Promise<{
      uid: number;
      mode: number;
      isDirectory(): boolean;
    }>;
  };
  stdout: { writer(): Sink };
  stderr: { writer(): Sink };
};
type Sink = { write(chunk: string): number; flush(): number | Promise<number> };

const bun = (globalThis as { Bun?: BunApi }).Bun;

const absent = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');

/** A file's text; null when it does not exist. */
export async function readText(path: string): Promise<string | null> {
  try {
    return bun ? await bun.file(path).text() : await (await import('node:fs/promises')).readFile(path, 'utf8');
  } catch (error) {
    if (absent(error)) return null;
    throw error;
  }
}

export type FileInfo = { uid: number; mode: number; directory: boolean };

/** Who owns a file, its mode, and whether it is a directory; null when it does not exist. */
export async function fileInfo(path: string): Promise<FileInfo | null> {
  try {
    const info = bun ? await bun.file(path).stat() : await (await import('node:fs/promises')).stat(path);
    return {
      uid: info.uid,
      mode: info.mode,
      directory: info.isDirectory(),
    };
  } catch (error) {
    if (absent(error)) return null;
    throw error;
  }
}

/**
 * A writer for standard output (1) or error (2), in order. Bun's sink writes now and
 * finishes a write a slow reader was not ready for before the process exits.
 */
export function output(fd: 1 | 2): (text: string) => void {
  if (!bun) return (text) => void (fd === 1 ? process.stdout : process.stderr).write(text);
  let sink: Sink | undefined;
  return (text) => {
    try {
      sink ??= (fd === 1 ? bun.stdout : bun.stderr).writer();
      sink.write(text);
      Promise.resolve(sink.flush()).catch(() => {});
    } catch (error) {
      // A reader that went away (`latchkey token | head -c 0`) is not latchkey's error; a
      // full disk is, and must not pass for success.
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EPIPE')
        throw new LatchkeyError('failed', `cannot write to standard ${fd === 1 ? 'output' : 'error'} (${code ?? 'error'})`);
    }
  };
}
