// comlink passes a thrown Error to the other side as { name, message, stack } only. Bad-input errors
// (BundleError) also carry `file`, `field` and `expected`, which the page shows; this keeps them.
// Only serialisation changes (comlink's own deserialiser already copies every field onto a new
// Error), so installing it in the worker is enough.
import { transferHandlers, type TransferHandler } from 'comlink';

const EXTRA_FIELDS = ['file', 'field', 'expected'] as const;

export function installErrorTransfer(): void {
  const original = transferHandlers.get('throw') as TransferHandler<{ value: unknown }, unknown> | undefined;
  if (!original) return;
  transferHandlers.set('throw', {
    canHandle: original.canHandle,
    serialize(thrown: { value: unknown }) {
      const [wire, transfer] = original.serialize(thrown);
      const value = thrown.value as Record<string, unknown> | null;
      if (value instanceof Error && wire && typeof wire === 'object' && 'value' in wire) {
        const out = (wire as { value: Record<string, unknown> }).value;
        for (const k of EXTRA_FIELDS) if (typeof value[k] === 'string') out[k] = value[k];
      }
      return [wire, transfer];
    },
    deserialize: original.deserialize,
  } as TransferHandler<unknown, unknown>);
}
