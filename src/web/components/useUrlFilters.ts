import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';
import { readFilters, writeFilters, type Specs, type Values } from '../lib/urlFilters.js';

/**
 * A page's filters as URL state. Changing a filter or the sort goes back to the first page
 * (clears the `after`/`before` cursors) and replaces the history entry while typing.
 */
export function useUrlFilters<S extends Specs>(specs: S): [Values<S>, (patch: Partial<Values<S>>, opts?: { push?: boolean }) => void] {
  const [params, setParams] = useSearchParams();
  const values = useMemo(() => readFilters(specs, params), [specs, params]);
  const update = useCallback(
    (patch: Partial<Values<S>>, opts: { push?: boolean } = {}) => {
      const pageOnly = Object.keys(patch).every((k) => k === 'after' || k === 'before');
      const next = { ...values, ...(pageOnly ? {} : { after: '', before: '' }), ...patch };
      setParams(writeFilters(specs, next), { replace: !opts.push });
    },
    [specs, values, setParams],
  );
  return [values, update];
}
