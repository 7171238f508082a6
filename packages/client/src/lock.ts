/**
 * A cross-process lock beside the config: an exclusively created file. Ten `latchkey
 * token` processes started together queue here, so one of them refreshes and the rest
 * read what it wrote. A lock older than STALE_MS belongs to a crashed process.
 */
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { LatchkeyError } from './errors.ts';

const STALE_MS = 30_000;
const WAIT_MS = 35_000;

export async function withLock<T>(dir: string, name: string, work: () => Promise<T>, appName = 'latchkey'): Promise<T> {
  const path = join(dir, `${name}.lock`);
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(path).then(
        (info) => Date.now() - info.mtimeMs,
        () => 0,
      );
      if (age > STALE_MS) await rm(path, { force: true });
      else if (Date.now() > deadline)
        throw new LatchkeyError('timed_out', `another ${appName} holds ${path}; remove it if none runs`);
      else await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 25));
    }
  }
  try {
    return await work();
  } finally {
    await rm(path, { force: true });
  }
}
