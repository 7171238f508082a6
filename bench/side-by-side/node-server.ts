/**
 * Bench only: the same latchkey app under `node worker/entry/node.ts` on its memory store
 * (what `npm run start:node` runs), in its own process group on 127.0.0.1, for the refresh
 * row beside the Workers. `settings` are the LATCHKEY_* values the workerd side gets.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export type NodeServer = { origin: string; pid: number; stop: () => void };

export async function startNodeLatchkey(root: string, port: number, settings: Record<string, string>): Promise<NodeServer> {
  const origin = `http://127.0.0.1:${port}`;
  let log = '';
  const child: ChildProcess = spawn(process.execPath, [join(root, 'worker/entry/node.ts')], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Only what the entry reads: nothing from the caller's LATCHKEY_* changes the row.
    env: {
      PATH: process.env.PATH ?? '',
      ...settings,
      LATCHKEY_ISSUER: origin,
      LATCHKEY_STORE: 'memory',
      HOST: '127.0.0.1',
      PORT: String(port),
    },
  });
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-16_384);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const stop = () => {
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {}
    }
  };
  for (let attempt = 0; ; attempt++) {
    const ready = await fetch(`${origin}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (attempt > 150 || child.exitCode !== null) {
      stop();
      throw new Error(`node worker/entry/node.ts did not answer ${origin}/healthz:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { origin, pid: child.pid as number, stop };
}
