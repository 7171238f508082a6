/**
 * Bench only: bindings that count what passes through them. Every method call on a KV
 * namespace or on a Durable Object stub is one round trip to the store; the names handed
 * to `idFromName` are the objects addressed.
 */
export type Counts = { kv: number; durableObject: number; objects: Set<string>; byMethod: Record<string, number> };

export const newCounts = (): Counts => ({ kv: 0, durableObject: 0, objects: new Set(), byMethod: {} });

export const countsJson = (counts: Counts) => ({
  kv: counts.kv,
  durableObject: counts.durableObject,
  objects: counts.objects.size,
  byMethod: counts.byMethod,
});

/** `target` with each method call counted under `kind` before it goes through. */
function counting<T extends object>(target: T, counts: Counts, kind: 'kv' | 'durableObject'): T {
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property);
      if (typeof property !== 'string' || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        counts[kind]++;
        const name = `${kind}.${property}`;
        counts.byMethod[name] = (counts.byMethod[name] ?? 0) + 1;
        // Not value.apply(): on an RPC stub, `apply` would be a remote method's name.
        return Reflect.apply(value, object, args);
      };
    },
  });
}

export function countingKv<T extends object>(kv: T, counts: Counts): T {
  return counting(kv, counts, 'kv');
}

/** A Durable Object namespace whose stubs count their calls; addressing an object is no round trip. */
export function countingNamespace<T extends object>(namespace: T, counts: Counts): T {
  return new Proxy(namespace, {
    get(object, property) {
      const value = Reflect.get(object, property);
      if (typeof property !== 'string' || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (property === 'idFromName' || property === 'getByName') counts.objects.add(String(args[0]));
        if (property === 'idFromString' || property === 'newUniqueId') counts.objects.add(`${property}:${String(args[0])}`);
        const result = Reflect.apply(value, object, args);
        if (property === 'get' || property === 'getByName') return counting(result as object, counts, 'durableObject');
        return result;
      };
    },
  });
}
