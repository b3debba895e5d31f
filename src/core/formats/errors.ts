// Errors of the outside-format readers: a BundleError subclass so the CLI and the page show the
// file, the field and what was expected the same way as for a bad bundle.
import { BundleError } from '../base/errors.ts';

export class FormatError extends BundleError {
  constructor(file: string, message: string, opts: { field?: string; expected?: string; cause?: unknown } = {}) {
    super(file, message, opts);
    this.name = 'FormatError';
  }
}

/** A pickle that asks for a class or function outside the allow-list. Never executed. */
export class DisallowedPickleError extends FormatError {
  readonly className: string;
  constructor(file: string, className: string) {
    super(file, `pickle refers to ${className}, which is not on the allow-list; refused (nothing was executed)`, {
      field: 'pickle global',
      expected: 'dict, list, tuple, str, bytes, int, float, bool, None or numpy arrays of numeric/string dtype',
    });
    this.name = 'DisallowedPickleError';
    this.className = className;
  }
}
