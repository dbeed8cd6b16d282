// One entry of a run's timeline: a status change, an engine event (image pulled, OOMKilled…)
// or a user action. Answers "why is it pending?".
import type { RunEventRow } from '../../../db/schema.js';
import { builder } from '../builder.js';
import { RunStatusEnum } from './runStatus.js';
import { NodeInterface, toGlobalId } from './node.js';
import { eventKindOf, RunEventKindEnum } from './enums.js';

export const RunEventRef = builder.objectRef<RunEventRow>('RunEvent').implement({
  description: 'One entry of a run timeline, oldest first.',
  interfaces: [NodeInterface],
  fields: (t) => ({
    id: t.id({ description: 'Global id (opaque; for node(id:) and client caches).', resolve: (e) => toGlobalId('RunEvent', e.seq) }),
    // The global sequence can pass 2^31, which a GraphQL Int cannot hold.
    seq: t.string({
      description: 'Increases with every event of every run: orders the timeline. A decimal number as a string.',
      resolve: (e) => String(e.seq),
    }),
    at: t.expose('at', { type: 'DateTime', description: 'When it happened (as recorded by the server).' }),
    kind: t.field({ type: RunEventKindEnum, description: 'What the entry records.', resolve: (e) => eventKindOf(e.kind) }),
    fromStatus: t.field({ type: RunStatusEnum, nullable: true, description: 'For STATUS: the status before.', resolve: (e) => e.fromStatus }),
    toStatus: t.field({ type: RunStatusEnum, nullable: true, description: 'For STATUS: the status after.', resolve: (e) => e.toStatus }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why, in words.' }),
    detail: t.expose('detail', { type: 'JSON', description: 'Engine event type, message and source object; who stopped the run; …' }),
  }),
});
