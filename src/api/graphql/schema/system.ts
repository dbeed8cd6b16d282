import { allowedActions } from '../../../domain/authorization.js';
import { builder } from '../builder.js';

builder.queryField('health', (t) => t.string({ description: 'Answers "healthy" while the API is up.', resolve: () => 'healthy' }));

/** Who the caller is, for the console: its identity, role, and what that role may do. */
const ViewerRef = builder.objectRef<{ id: string | null; role: string; authMode: string; actions: string[] }>('Viewer').implement({
  description: 'The signed-in caller. With FLOTILLA_AUTH=none everyone is the local admin (id null).',
  fields: (t) => ({
    ownerId: t.string({
      nullable: true,
      description: 'The owner id runs are executed as (token owner, OIDC owner claim, proxy e-mail).',
      resolve: (v) => v.id,
    }),
    role: t.exposeString('role', { description: 'viewer, user or admin' }),
    authMode: t.exposeString('authMode', { description: 'FLOTILLA_AUTH: none, token, oidc or proxy' }),
    allowedActions: t.exposeStringList('actions', { description: 'What the role may do at all (ownership is checked per run and definition).' }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    description: 'The caller: identity and role.',
    resolve: (_root, _args, ctx) => ({
      id: ctx.actor?.id ?? null,
      role: ctx.actor?.role ?? 'viewer',
      authMode: ctx.actor?.via === 'none' ? 'none' : (ctx.authMode ?? 'none'),
      actions: allowedActions(ctx.actor),
    }),
  }),
);
