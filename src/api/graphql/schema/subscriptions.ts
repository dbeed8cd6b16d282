// Live subscriptions (docs/architecture.md "Events and live updates") over graphql-ws and SSE. The delivery rules (replay from
// Postgres, gaps, bounded buffers, completion) are services.live's; this module turns its
// followers into subscription streams:
// - an unknown run (or a bad cursor) fails the subscribe call, so the client gets a GraphQL
//   error at once instead of an idle stream;
// - unsubscribing aborts the follower through its AbortSignal even while it waits for the
//   next item (an async generator's own return() would wait for that item first);
// - an error while following ends the stream with that error as a GraphQL error in the last
//   payload (typed errors keep their message, unexpected ones are masked), not a dropped socket.
import type { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { RunLogRow, RunRow } from '../../../db/schema.js';
import { FlotillaError } from '../../../errors.js';
import { builder, type GraphQLContext } from '../builder.js';
import { assertNoNul } from './connection.js';
import { RunRef } from './run.js';
import { logCursorToSeq, RunLogChunkRef } from './runLog.js';
import { RunStatusEnum } from './runStatus.js';

builder.subscriptionType({ description: 'Live updates over WebSocket (graphql-transport-ws) or SSE (POST with Accept: text/event-stream) on /graphql.' });

/** One item of a subscription stream: a value, or the error that ends the stream. */
type Delivery<T> = { value: T } | { error: Error };

function clientError(err: FlotillaError): GraphQLError {
  return createGraphQLError(err.message, { extensions: { code: err.code } });
}

/** Runs `start` with a signal that fires when the subscriber goes away. */
export function followUntilReturn<T>(start: (signal: AbortSignal) => AsyncIterable<T>): AsyncIterableIterator<Delivery<T>> {
  const controller = new AbortController();
  let source: AsyncIterator<T> | undefined;
  let finished = false;
  const finish = () => {
    finished = true;
    controller.abort();
  };
  const done = (): IteratorReturnResult<undefined> => ({ done: true, value: undefined });
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next(): Promise<IteratorResult<Delivery<T>, undefined>> {
      if (finished) return done();
      try {
        source ??= start(controller.signal)[Symbol.asyncIterator]();
        const item = await source.next();
        if (finished) return done();
        if (item.done) {
          finish();
          return done();
        }
        return { done: false, value: { value: item.value } };
      } catch (err) {
        if (finished) return done();
        finish();
        const error = err instanceof FlotillaError ? clientError(err) : err instanceof Error ? err : new Error(String(err));
        return { done: false, value: { error } };
      }
    },
    async return(): Promise<IteratorReturnResult<undefined>> {
      finish();
      // Not awaited: a generator blocked on its next item runs its `finally` once the abort
      // has woken it, and the subscriber must not wait for that.
      source?.return?.()?.catch(() => {});
      return done();
    },
  };
}

function unwrap<T>(delivery: Delivery<T>): T {
  if ('error' in delivery) throw delivery.error;
  return delivery.value;
}

/** Fails the subscribe call when the run does not exist, before anything is followed. */
async function assertRunExists(ctx: GraphQLContext, runId: string): Promise<void> {
  const run = await ctx.loaders.runById.load(runId);
  if (!run) throw createGraphQLError(`Run with id ${runId} not found`, { extensions: { code: 'NOT_FOUND' } });
}

/**
 * A run from a stream. Payloads are executed one after another, so the operation's cached
 * reads (stale by now) can be dropped before each.
 */
function freshRun(ctx: GraphQLContext, run: RunRow): RunRow {
  ctx.loaders.forgetAll();
  return run;
}

builder.subscriptionField('runStatus', (t) =>
  t.field({
    type: RunRef,
    description: 'The run as it is now, then after every change; completes after STOPPED. An unknown run is an error.',
    args: { runId: t.arg.id({ required: true, description: 'The run id (Run.runId).' }) },
    subscribe: async (_root, { runId }, ctx) => {
      const id = String(runId);
      await assertRunExists(ctx, id);
      return followUntilReturn((signal) => ctx.services.live.followStatus(id, signal));
    },
    resolve: (delivery: Delivery<RunRow>, _args, ctx) => freshRun(ctx, unwrap(delivery)),
  }),
);

builder.subscriptionField('runLogs', (t) =>
  t.field({
    type: RunLogChunkRef,
    description:
      'Log chunks after the cursor `after` (from the start without it): stored ones first, then live ones, in seq order with no gap or repeat. ' +
      'Completes when the run is STOPPED and its output fully stored, so a finished run replays and completes.',
    args: {
      runId: t.arg.id({ required: true, description: 'The run id (Run.runId).' }),
      after: t.arg.string({ description: 'A cursor from a chunk or a Run.logs page.' }),
    },
    subscribe: async (_root, { runId, after }, ctx) => {
      const id = String(runId);
      await assertRunExists(ctx, id);
      const afterSeq = logCursorToSeq(id, after);
      return followUntilReturn((signal) => ctx.services.live.followLogs(id, afterSeq, signal));
    },
    resolve: (delivery: Delivery<RunLogRow>) => unwrap(delivery),
  }),
);

const RunFeedFilter = builder.inputType('RunFeedFilter', {
  description: 'All given conditions must hold; empty values are ignored.',
  fields: (t) => ({
    statuses: t.field({ type: [RunStatusEnum], description: 'The new status is one of these.' }),
    owner: t.string(),
    definitionId: t.id({ description: 'The definitionId of the definition (exact).' }),
    alias: t.string({ description: 'The exact alias.' }),
  }),
});

builder.subscriptionField('runEvents', (t) =>
  t.field({
    type: RunRef,
    description: 'Every change of any run matching the filter, as it happens (no replay): a feed for dashboards.',
    args: { filter: t.arg({ type: RunFeedFilter, description: 'Which runs; every run when omitted.' }) },
    subscribe: (_root, { filter }, ctx) => {
      assertNoNul(filter, 'filter');
      const feed = {
        statuses: filter?.statuses?.length ? filter.statuses : undefined,
        owner: filter?.owner || undefined,
        definitionId: filter?.definitionId || undefined,
        alias: filter?.alias || undefined,
      };
      return followUntilReturn((signal) => ctx.services.live.followRuns(feed, signal));
    },
    resolve: (delivery: Delivery<RunRow>, _args, ctx) => freshRun(ctx, unwrap(delivery)),
  }),
);
