// The page's error banner: every error the stores hold (bundle, backend, decoding) is shown here.
import type { AppError } from '../../state/bundleStore.ts';

export function ErrorBanner({ errors }: { errors: Array<AppError | null | undefined> }) {
  const shown = errors.filter((e): e is AppError => !!e);
  if (shown.length === 0) return null;
  return (
    <div className="error-banner" role="alert" data-testid="error-banner">
      {shown.map((e, i) => (
        <div key={i} className="error-banner__item">
          <div className="error-banner__title">Error while {e.context}</div>
          <div className="error-banner__message">{e.message}</div>
          {(e.file || e.field) && (
            <div className="error-banner__where">
              {e.file && (
                <span>
                  file <code>{e.file}</code>
                </span>
              )}
              {e.field && (
                <span>
                  {' '}
                  field <code>{e.field}</code>
                </span>
              )}
            </div>
          )}
        </div>
      ))}
    </div>
  );
}
