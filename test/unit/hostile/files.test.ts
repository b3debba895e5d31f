// src/node/files.ts: the one gate every whole-file CLI input goes through. Non-regular files (FIFO,
// device, folder) and files over the size cap are refused from a stat, before any open or read, with
// a BundleError naming the file, the flag and what was expected.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BundleError } from '../../../src/core/base/errors.ts';
import { fsTree, MAX_WHOLE_FILE_BYTES, readRegularFile, readRegularText } from '../../../src/node/files.ts';

const dir = mkdtempSync(join(tmpdir(), 'mirage-hostile-files-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const at = (name: string) => join(dir, name);
writeFileSync(at('ok.txt'), 'héllo\n');
writeFileSync(at('big.bin'), new Uint8Array(4097));
mkdirSync(at('folder'));
execFileSync('mkfifo', [at('pipe.npy')]);

describe('readRegularFile / readRegularText (src/node/files.ts)', () => {
  it('reads a regular file whole, and as UTF-8 text', async () => {
    expect(Array.from(await readRegularFile(at('ok.txt')))).toEqual(Array.from(Buffer.from('héllo\n')));
    expect(await readRegularText(at('ok.txt'))).toBe('héllo\n');
    expect(MAX_WHOLE_FILE_BYTES).toBe(1024 ** 3);
  });

  it.each<[string, string, RegExp]>([
    ['a FIFO (it would block the open forever)', 'pipe.npy', /pipe\.npy: --latents: is a FIFO \(named pipe\); refused \(expected an \.npy\)$/],
    ['a folder', 'folder', /folder: --latents: is a directory; refused \(expected an \.npy\)$/],
    ['a missing file', 'nope.npy', /nope\.npy: --latents: cannot read \(ENOENT\) \(expected an \.npy\)$/],
    ['a file over the cap', 'big.bin', /big\.bin: --latents: is 4097 bytes, over the 4096-byte limit for a file read whole; refused \(expected an \.npy\)$/],
  ])('refuses %s, naming the file and the flag', async (_, name, message) => {
    const read = readRegularFile(at(name), { field: '--latents', expected: 'an .npy', maxBytes: 4096 });
    await expect(read).rejects.toThrow(BundleError);
    await expect(read).rejects.toThrow(message);
  });

  it('refuses a character device (/dev/zero never ends)', async () => {
    await expect(readRegularFile('/dev/zero')).rejects.toThrow(/^\/dev\/zero: is not a regular file; refused/);
  });
});

describe('fsTree (src/node/files.ts)', () => {
  it('passes over a missing name or a folder, but refuses a FIFO under a file name', async () => {
    const tree = fsTree(dir);
    expect(await tree.open('nope.npy')).toBeNull();
    expect(await tree.open('folder')).toBeNull();
    expect((await tree.open('ok.txt'))?.size).toBe(Buffer.byteLength('héllo\n'));
    await expect(tree.open('pipe.npy')).rejects.toThrow(new RegExp(`^${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/pipe\\.npy: is a FIFO \\(named pipe\\); refused`));
  });
});
