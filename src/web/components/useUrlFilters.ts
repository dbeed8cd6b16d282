import { startTransition, useCallback, useMemo, useOptimistic } from 'react';
import { useSearchParams } from 'react-router';
import { readFilters, writeFilters, type Specs, type Values } from '../lib/urlFilters.js';

/**
 * A page's filters as URL state. Changing a filter or the sort goes back to the first page
 * (clears the `after`/`before` cursors) and replaces the history entry while typing.
 *
 * The router commits a navigation inside a transition, which on a busy machine lands a while
 * after the click. Until it does, the page shows the new values optimistically: otherwise a
 * controlled checkbox springs back to its old state for that while, and typed text can jump.
 */
export function useUrlFilters<S extends Specs>(specs: S): [Values<S>, (patch: Partial<Values<S>>, opts?: { push?: boolean }) => void] {
  const [params, setParams] = useSearchParams();
  const fromUrl = useMemo(() => readFilters(specs, params), [specs, params]);
  const [values, showNow] = useOptimistic(fromUrl);
  const update = useCallback(
    (patch: Partial<Values<S>>, opts: { push?: boolean } = {}) => {
      const pageOnly = Object.keys(patch).every((k) => k === 'after' || k === 'before');
      const next = { ...values, ...(pageOnly ? {} : { after: '', before: '' }), ...patch };
      startTransition(() => {
        showNow(next);
        setParams(writeFilters(specs, next), { replace: !opts.push });
      });
    },
    [specs, values, setParams, showNow],
  );
  return [values, update];
}
