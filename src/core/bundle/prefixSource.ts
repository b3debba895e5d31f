// A ShardSource seen through a folder prefix: a pack inside a bundle (modelpack/, encoding packs)
// is read with the pack's own relative paths.
import type { ReadOptions, ShardSource } from './source.ts';

export class PrefixSource implements ShardSource {
  readonly label: string;
  constructor(private readonly inner: ShardSource, private readonly prefix: string) {
    this.label = `${inner.label.replace(/\/$/, '')}/${prefix.replace(/\/$/, '')}`;
  }
  read(path: string, opts?: ReadOptions): Promise<Uint8Array> {
    return this.inner.read(this.prefix + path, opts);
  }
}
