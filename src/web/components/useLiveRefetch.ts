import { useEffect, useRef } from 'react';
import { useSubscription } from 'urql';
import { RunEventsSubscription } from '../graphql/runs.js';
import type { VariablesOf } from '../graphql/graphql.js';

/**
 * Lists stay live without polling: every `runEvents` message (a run was created or changed)
 * refetches the list, at most every `everyMs`, so a burst of changes costs one query.
 */
export function useLiveRefetch(filter: VariablesOf<typeof RunEventsSubscription>['filter'], refetch: () => void, everyMs = 400) {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const refetchRef = useRef(refetch);
  refetchRef.current = refetch;
  const [sub] = useSubscription({ query: RunEventsSubscription, variables: { filter } });
  useEffect(() => {
    if (!sub.data || timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = undefined;
      refetchRef.current();
    }, everyMs);
  }, [sub.data, everyMs]);
  useEffect(() => () => clearTimeout(timer.current), []);
}
