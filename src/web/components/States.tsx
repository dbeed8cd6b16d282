import type { ReactNode } from 'react';
import { Link } from 'react-router';
import type { CombinedError } from '@urql/core';

export function Loading({ what }: { what: string }) {
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

export function ErrorState({ error, retry }: { error: CombinedError | Error | string; retry?: () => void }) {
  const message =
    typeof error === 'string'
      ? error
      : 'networkError' in error && error.networkError
        ? `Cannot reach the server (${error.networkError.message}).`
        : error.message.replace(/^\[GraphQL\] /, '');
  return (
    <div className="state state-error" role="alert">
      <strong>Something went wrong.</strong> {message}
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="state state-empty">{children}</div>;
}

export function NotFound({ what, id }: { what: string; id?: string }) {
  return (
    <div className="state state-notfound">
      <h1>Not found</h1>
      <p>
        There is no {what}
        {id ? (
          <>
            {' '}
            <code>{id}</code>
          </>
        ) : null}
        . It may have been deleted, or the link is mistyped.
      </p>
      <p>
        <Link to="/tasks">Tasks</Link> · <Link to="/runs">Runs</Link>
      </p>
    </div>
  );
}
