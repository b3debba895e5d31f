// A minimal in-memory CacheStorage (Node has none) with the methods HttpShardSource and the
// resumable pack download use; `stores` is open for tests that inspect or corrupt entries.
export interface MemoryEntry {
  bytes: Uint8Array;
  headers: Headers;
}

export class MemoryCaches {
  readonly stores = new Map<string, Map<string, MemoryEntry>>();
  async open(name: string) {
    const store = this.stores.get(name) ?? new Map<string, MemoryEntry>();
    this.stores.set(name, store);
    return {
      match: async (key: string) => {
        const e = store.get(key);
        return e ? new Response(e.bytes.slice(), { headers: e.headers }) : undefined;
      },
      put: async (key: string, res: Response) => void store.set(key, { bytes: new Uint8Array(await res.arrayBuffer()), headers: res.headers }),
      keys: async () => [...store.keys()].map((k) => new Request(k)),
      delete: async (req: Request | string) => store.delete(typeof req === 'string' ? req : req.url),
    };
  }
}
