// One error type for every "this input is wrong" case, so the CLI and the page can show the file,
// the field and what was expected without parsing messages.
export class BundleError extends Error {
  readonly file: string;
  readonly field?: string;
  readonly expected?: string;
  constructor(file: string, message: string, opts: { field?: string; expected?: string; cause?: unknown } = {}) {
    const where = opts.field ? `${file}: ${opts.field}` : file;
    super(`${where}: ${message}${opts.expected ? ` (expected ${opts.expected})` : ''}`, { cause: opts.cause });
    this.name = 'BundleError';
    this.file = file;
    this.field = opts.field;
    this.expected = opts.expected;
  }
}

export class AbortError extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'AbortError';
  }
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError();
}
