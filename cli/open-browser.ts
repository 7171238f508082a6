/**
 * Starting the system browser, and telling when it cannot be shown: on Linux and the BSDs
 * a DISPLAY or WAYLAND_DISPLAY naming no server that answers (a variable left from another
 * session, a container, an SSH login without X forwarding), and anywhere an opener that
 * fails at once. Either comes back as a reason, and login falls back to the device flow,
 * saying it, instead of waiting five minutes for a page nobody sees.
 */
import { browserCommand } from '../packages/client/src/open-url.ts';

/** How long an opener may take to fail; one still running then (or done with 0) is taken to have shown the page. */
export const OPENER_GRACE_MS = 1000;
/** How long a display's socket may take to accept a connection. */
export const DISPLAY_PROBE_MS = 500;

export type SocketTarget = { path: string } | { host: string; port: number };
/** Whether something accepts a connection at `target` (closed at once). */
export type Connects = (target: SocketTarget) => Promise<boolean>;

/**
 * Where X clients reach DISPLAY `[host]:N[.S]`: with no host (or `unix`) the local socket,
 * as a file or in Linux's abstract namespace (where Xorg listens too); else TCP 6000+N,
 * as SSH X forwarding sets `localhost:10.0`. Null for a form not judged here.
 */
export function xTargets(display: string): SocketTarget[] | null {
  const match = /^(.*):(\d+)(?:\.\d+)?$/.exec(display);
  if (!match) return null;
  const [, host = '', number = ''] = match;
  if (host === '' || host === 'unix') return [{ path: `/tmp/.X11-unix/X${number}` }, { path: `\0/tmp/.X11-unix/X${number}` }];
  if (host.includes('/')) return null; // a launchd-style socket path (XQuartz): not ours to judge
  return [{ host: host.replace(/^\[(.*)\]$/, '$1'), port: 6000 + Number(number) }];
}

const where = (target: SocketTarget) => ('path' in target ? target.path : `${target.host}:${target.port}`);

/**
 * Why no display answers here; null when one does, or where none is needed (macOS,
 * Windows) or the variable's form is not one judged here.
 */
export async function displayProblem(
  platform: string,
  env: Record<string, string | undefined>,
  connects: Connects,
): Promise<string | null> {
  if (platform === 'darwin' || platform === 'win32') return null;
  const problems: string[] = [];
  const wayland = env.WAYLAND_DISPLAY;
  if (wayland) {
    const path = wayland.startsWith('/') ? wayland : env.XDG_RUNTIME_DIR ? `${env.XDG_RUNTIME_DIR}/${wayland}` : null;
    if (path === null) problems.push(`WAYLAND_DISPLAY=${wayland} but no XDG_RUNTIME_DIR to find its socket in`);
    else if (await connects({ path })) return null;
    else problems.push(`WAYLAND_DISPLAY=${wayland} but no compositor answers at ${path}`);
  }
  if (env.DISPLAY) {
    const targets = xTargets(env.DISPLAY);
    if (targets === null) return null;
    for (const target of targets) if (await connects(target)) return null;
    problems.push(`DISPLAY=${env.DISPLAY} but no X server answers at ${where(targets[0] as SocketTarget)}`);
  }
  return problems.length > 0 ? problems.join('; ') : 'neither DISPLAY nor WAYLAND_DISPLAY is set';
}

/** A connection attempt within DISPLAY_PROBE_MS, closed as soon as it is made. */
export const connects: Connects = async (target) => {
  const { createConnection } = await import('node:net');
  return new Promise((resolve) => {
    const socket = createConnection(target);
    const done = (accepted: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(accepted);
    };
    const timer = setTimeout(() => done(false), DISPLAY_PROBE_MS);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
};

/**
 * LATCHKEY_BROWSER (a program taking the URL; trusted to know its display), else the
 * platform's opener once a display answers. True once the opener ran for OPENER_GRACE_MS
 * or ended with status 0; else why not.
 */
export async function openBrowser(
  platform: string,
  env: Record<string, string | undefined>,
  url: string,
  probe: Connects = connects,
): Promise<true | string> {
  if (!env.LATCHKEY_BROWSER) {
    const problem = await displayProblem(platform, env, probe);
    if (problem !== null) return problem;
  }
  // Loaded here, not at start-up: only a browser login starts a process.
  const { spawn } = await import('node:child_process');
  const [command, ...args] = browserCommand(platform, env, url);
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(`${command} could not be started (${error.code ?? 'error'})`);
    });
    child.once('spawn', () => {
      timer = setTimeout(() => {
        child.unref();
        resolve(true);
      }, OPENER_GRACE_MS);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code === 0 ? true : `${command} ${code === null ? `was ended by ${signal}` : `exited with status ${code}`}`);
    });
  });
}
