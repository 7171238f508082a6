/** What every command is given instead of reaching for globals, so tests can fake any of it. */
import type { ClientDeps, Selection } from '../packages/client/src/deps.ts';

export type Io = {
  /** Data: what a script reads. */
  out(text: string): void;
  /** Prose, progress and prompts. */
  err(text: string): void;
  /**
   * Rewrites the status line on stderr in place (a countdown); null clears it. The only
   * way to move the cursor: out and err escape every control character but newline and tab.
   */
  progress(line: string | null): void;
  readStdin(): Promise<string>;
  /** A file the person named (a policy, a token); its text. */
  readFile(path: string): Promise<string>;
  /** Whether stderr is a terminal (countdowns, prompts). */
  interactive: boolean;
  /** Asks a question at the terminal and returns the line typed; null without a terminal. */
  ask: ((question: string) => Promise<string>) | null;
};

/** The client library's dependencies (packages/client/src/deps.ts) and what only a terminal program has. */
export type CliDeps = ClientDeps & {
  io: Io;
  /** Whether a browser can be shown here (a display, not an SSH session, or LATCHKEY_BROWSER). */
  canOpenBrowser: () => boolean;
  /**
   * Opens the URL in the system browser: true, or why not (no display answers, the opener
   * failed), or false with nothing to say; login then falls back to the device flow.
   */
  openBrowser: (url: string) => Promise<boolean | string>;
  /**
   * Runs `exec`'s child: the program looked up in `env.PATH`, with exactly `env`, latchkey's
   * stdin, stdout and stderr, and the signals latchkey gets passed on until it ends.
   * node:child_process loads only here.
   */
  runChild: (file: string, args: string[], env: Record<string, string>) => Promise<ChildEnd>;
  /** Runs a program to its end (`git config`), its output collected; loaded on first use. */
  runProgram: (file: string, args: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** How to run this CLI again (what `setup-git` writes into git's config): its absolute path, compiled. */
  self: string[];
};

/** How `exec`'s child ended: its exit code, the signal that killed it, or why it never started (errno: ENOENT, EACCES). */
export type ChildEnd = { code: number } | { signal: NodeJS.Signals } | { notStarted: string };

export type GlobalOptions = Selection & { org?: string; project?: string; json: boolean };
