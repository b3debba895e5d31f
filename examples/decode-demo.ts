// Decode a subject of a bundle folder and print how well the decoded features identify their
// stimulus, through the package's public API only ("mirage-explorer" and "mirage-explorer/node").
//
//   node --import tsx examples/decode-demo.ts <bundle folder> [subject]
//
// e.g. after `node bin/mirage.js demo --out public/demo`:
//   node --import tsx examples/decode-demo.ts public/demo 1
import { decode, identification, openBundle, type Condition } from 'mirage-explorer';
import { FsShardSource, nodeWasmPaths } from 'mirage-explorer/node';

const [dir, subjectArg = '1'] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: node --import tsx examples/decode-demo.ts <bundle folder> [subject]\n');
  process.exit(2);
}
const subject = Number(subjectArg);

const bundle = await openBundle(new FsShardSource(dir));
const m = bundle.manifest;
process.stdout.write(`${m.name} (${m.provenance.kind.toUpperCase()} data): subject ${subject}\n`);

for (const condition of ['vision', 'imagery'] as Condition[]) {
  // MIRAGE's decode: repeats averaged per stimulus, normalised over the condition's stimuli.
  const decoded = await decode(bundle, { subject, condition, heads: ['image'], wasmPaths: nodeWasmPaths() });
  const id = await identification(bundle, decoded, { head: 'image' });
  const norm = decoded.heads[0].normalization;
  process.stdout.write(
    `${condition}: ${id.head} head, two-way identification ${(100 * id.accuracy).toFixed(1)}% ` +
      `(${id.perRow.length} stimuli, chance 50%; backend ${decoded.backend}; ` +
      `${'batch' in norm ? `normalised over ${decoded.batch}` : norm.missing})\n`,
  );
}
