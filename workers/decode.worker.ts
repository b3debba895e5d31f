// The decode worker: a thin comlink face over src/core/decode/session.ts (open a bundle, decode,
// read tensors and betas) plus identification against the bundle's feature sets. The page never
// touches shards or weights itself.
import { expose, transfer } from 'comlink';
import { HttpShardSource } from '../src/core/bundle/httpSource.ts';
import { FileListShardSource } from '../src/core/bundle/fileSource.ts';
import { DecodeSession } from '../src/core/decode/session.ts';
import { rankByCosine } from '../src/core/evaluate/identify.ts';
import type { DecodeWorkerApi } from '../src/core/decode/protocol.ts';
import { installErrorTransfer } from './transferErrors.ts';

installErrorTransfer();

/** Where the wasm backends find their .wasm files (served by vite.config.ts under /wasm/). */
const WASM_BASE = new URL(`${import.meta.env.BASE_URL}wasm/`, self.location.origin).href;

const session = new DecodeSession({ wasmPaths: WASM_BASE });

const api: DecodeWorkerApi = {
  open(source, onProgress) {
    const shards =
      source.kind === 'url'
        ? new HttpShardSource(new URL(source.url, self.location.href).href, { cache: source.cache ?? true })
        : new FileListShardSource(source.files);
    return session.open(shards, onProgress && ((p) => void onProgress({ ...p })));
  },

  initBackend: (order) => session.initBackend(order),

  async decode(req) {
    const res = await session.decode(req);
    return transfer(res, Object.values(res.predictions).map((p) => p.values.buffer as ArrayBuffer));
  },

  async identify(req) {
    const { set, values } = await session.featureSet(req.set, req.head);
    return { ranked: rankByCosine(req.query, values, set.ids), set: set.name, head: set.head };
  },

  async tensor(ref) {
    const t = await session.tensor(ref);
    return transfer(t, [t.buffer as ArrayBuffer]);
  },

  async betas(trials) {
    const v = await session.betas(trials);
    return transfer(v, [v.buffer as ArrayBuffer]);
  },
};

expose(api);
