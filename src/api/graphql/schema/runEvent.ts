// One entry of a run's timeline: a status change, an engine event (image pulled, OOMKilled…)
// or a user action. Answers "why is it pending?".
import type { RunEventRow } from '../../../db/schema.js';
import { builder } from '../builder.js';
import { RunStatusEnum } from './runStatus.js';

export const RunEventRef = builder.objectRef<RunEventRow>('RunEvent').implement({
  description: 'One entry of a run timeline, oldest first.',
  fields: (t) => ({
    // The global sequence can pass 2^31, which a GraphQL Int cannot hold.
    id: t.id({ description: 'Increases with every event of every run: orders the timeline.', resolve: (e) => String(e.seq) }),
    at: t.expose('at', { type: 'DateTime' }),
    kind: t.exposeString('kind', { description: '`status` (a transition), `engine` (reported by the engine), `warning`, …' }),
    fromStatus: t.field({ type: RunStatusEnum, nullable: true, resolve: (e) => e.fromStatus }),
    toStatus: t.field({ type: RunStatusEnum, nullable: true, resolve: (e) => e.toStatus }),
    reason: t.exposeString('reason', { nullable: true }),
    detail: t.expose('detail', { type: 'JSON', description: 'Engine event type, message and source object; who stopped the run; …' }),
  }),
});
