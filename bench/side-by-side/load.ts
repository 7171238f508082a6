/**
 * Bench only: a small load generator. `connections` loops, each with its own keep-alive
 * connection to a loopback server, share `count` requests; every request's latency is
 * kept. Bounded in count and in time: a block stops at `maxSeconds`, a request fails
 * after `timeoutMs`. `wrk` would do the same for plain GETs; refresh chains need state.
 */
import { Agent, request as httpRequest } from 'node:http';

export type Reply = { status: number; body: string };
export type Call = (
  path: string,
  options?: { method?: string; headers?: Record<string, string>; body?: string },
) => Promise<Reply>;

/** A client bound to one loopback origin, with at most `connections` open sockets, all kept alive. */
export function client(origin: string, connections: number, timeoutMs = 10_000): { call: Call; close: () => void } {
  const { hostname, port } = new URL(origin);
  if (hostname !== '127.0.0.1') throw new Error(`the load generator talks to 127.0.0.1 only, not ${hostname}`);
  const agent = new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const call: Call = (path, options = {}) =>
    new Promise((resolve, reject) => {
      const body = options.body;
      const req = httpRequest(
        {
          agent,
          host: hostname,
          port: Number(port),
          path,
          method: options.method ?? 'GET',
          headers: { ...options.headers, ...(body === undefined ? {} : { 'content-length': Buffer.byteLength(body) }) },
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  return { call, close: () => agent.destroy() };
}

export type Block = { requests: number; seconds: number; rate: number; latencies: number[] };

/**
 * Runs `count` steps over `connections` loops; `step(loop)` makes one request and throws
 * if its answer is wrong. Stops early, with what it finished, after `maxSeconds`.
 */
export async function block(
  connections: number,
  count: number,
  maxSeconds: number,
  step: (loop: number) => Promise<void>,
): Promise<Block> {
  let started = 0;
  const latencies: number[] = [];
  const begin = performance.now();
  const deadline = begin + maxSeconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, loop) => {
      while (started < count && performance.now() < deadline) {
        started++;
        const sent = performance.now();
        await step(loop);
        latencies.push(performance.now() - sent);
      }
    }),
  );
  const seconds = (performance.now() - begin) / 1000;
  return { requests: latencies.length, seconds, rate: latencies.length / seconds, latencies };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

export const median = (values: number[]) => percentile(values, 50);

/** `op` run `times` times one after another (after one unmeasured run): the median latency in ms. */
export async function sequential(times: number, op: () => Promise<unknown>): Promise<number> {
  await op();
  const latencies: number[] = [];
  for (let index = 0; index < times; index++) {
    const sent = performance.now();
    await op();
    latencies.push(performance.now() - sent);
  }
  return median(latencies);
}
