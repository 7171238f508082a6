/**
 * The wait between device-flow polls: a timer that a cancelled login (its AbortSignal)
 * ends at once with `cancelled`. The default of ClientDeps.sleep for the facade and the
 * latchkey CLI alike; a test injects one that steps a clock instead.
 */
import { LatchkeyError } from './errors.ts';

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new LatchkeyError('cancelled', 'cancelled'));
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new LatchkeyError('cancelled', 'cancelled; nothing was stored'));
      },
      { once: true },
    );
  });
}
