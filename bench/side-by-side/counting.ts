/**
 * Bench only: bindings that count what passes through them. Every method call on a KV
 * namespace or on a Durable Object stub is one round trip to the store; the names handed
 * to `idFromName` are the objects addressed.
 *
 * The latency model: given a delay, every Durable Object stub call waits it out before it
 * leaves, as a call to an object in another region would. Calls made one after another
 * pay it one after another; calls made together pay it once.
 */
export type Counts = {
  kv: number;
  durableObject: number;
  /** Every object addressed since start-up. */
  objects: Set<string>;
  /** The objects addressed since the last `startWindow`. */
  window: Set<string>;
  byMethod: Record<string, number>;
};

export const newCounts = (): Counts => ({ kv: 0, durableObject: 0, objects: new Set(), window: new Set(), byMethod: {} });

export const countsJson = (counts: Counts) => ({
  kv: counts.kv,
  durableObject: counts.durableObject,
  objects: counts.objects.size,
  window: counts.window.size,
  byMethod: counts.byMethod,
});

export function startWindow(counts: Counts) {
  counts.window.clear();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `target` with each method call counted under `kind` (and delayed by `delayMs`) before it goes through. */
function counting<T extends object>(target: T, counts: Counts, kind: 'kv' | 'durableObject', delayMs = 0): T {
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property);
      if (typeof property !== 'string' || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        counts[kind]++;
        const name = `${kind}.${property}`;
        counts.byMethod[name] = (counts.byMethod[name] ?? 0) + 1;
        // Not value.apply(): on an RPC stub, `apply` would be a remote method's name.
        if (delayMs <= 0) return Reflect.apply(value, object, args);
        return sleep(delayMs).then(() => Reflect.apply(value, object, args));
      };
    },
  });
}

export function countingKv<T extends object>(kv: T, counts: Counts): T {
  return counting(kv, counts, 'kv');
}

/**
 * A Durable Object namespace whose stubs count their calls, each call first waiting
 * `delayMs`; addressing an object is no round trip.
 */
export function countingNamespace<T extends object>(namespace: T, counts: Counts, delayMs = 0): T {
  const address = (name: string) => {
    counts.objects.add(name);
    counts.window.add(name);
  };
  return new Proxy(namespace, {
    get(object, property) {
      const value = Reflect.get(object, property);
      if (typeof property !== 'string' || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === 'idFromName' || property === 'getByName') address(String(args[0]));
        if (property === 'idFromString' || property === 'newUniqueId') address(`${property}:${String(args[0])}`);
        const result = Reflect.apply(value, object, args);
        if (property === 'get' || property === 'getByName') return counting(result as object, counts, 'durableObject', delayMs);
        return result;
      };
    },
  });
}
