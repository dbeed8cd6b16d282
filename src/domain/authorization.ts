// Who may do what: the one decision REST, GraphQL (queries, mutations, subscriptions) and the
// CLI all go through. The API layers ask it before running an operation (role alone, no
// resource yet); the services ask it again with the resource (the run's owner, the
// definition's creator) where ownership matters.
//
//   viewer  reads everything (definitions, runs, logs, events, clusters)
//   user    + creates and updates definitions, deletes those it created, executes runs as
//           itself (run_tags.owner_id must be its own id), stops and reports on its own runs
//   admin   everything: clusters, tokens, stopping anyone's run, executing as anyone
//
// With FLOTILLA_AUTH=none every caller is the local admin: the behaviour of a laptop install.
import { ForbiddenError, UnauthenticatedError } from '../errors.js';

export const ROLES = ['viewer', 'user', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Actor {
  /** The owner id: a token's owner, the OIDC owner claim, the proxy's e-mail; undefined with auth none. */
  id: string | undefined;
  role: Role;
  via: 'none' | 'token' | 'oidc' | 'proxy' | 'cli';
}

/** Every caller under FLOTILLA_AUTH=none. */
export const LOCAL_ADMIN: Actor = Object.freeze({ id: undefined, role: 'admin', via: 'none' }) as Actor;

export const ACTIONS = [
  'public', // health: anyone, even without a credential
  'read',
  'identity', // who am I: any signed-in caller
  'definition.create',
  'definition.update',
  'definition.delete',
  'run.execute',
  'run.stop',
  'run.report', // a run's self-reported status
  'cluster.write',
  'token.manage',
] as const;
export type Action = (typeof ACTIONS)[number];

/** What ownership is judged on; absent = the role check alone (the API layer's first pass). */
export interface Resource {
  /** The run's owner, or the owner a new run asks for. */
  ownerId?: string | null;
  /** Who created the definition. */
  createdBy?: string | null;
}

const MIN_ROLE: Record<Action, Role | null> = {
  public: null,
  read: 'viewer',
  identity: 'viewer',
  'definition.create': 'user',
  'definition.update': 'user',
  'definition.delete': 'user',
  'run.execute': 'user',
  'run.stop': 'user',
  'run.report': 'user',
  'cluster.write': 'admin',
  'token.manage': 'admin',
};

const RANK: Record<Role, number> = { viewer: 0, user: 1, admin: 2 };

export type Decision =
  { allowed: true } | { allowed: false; status: 401 | 403; code: 'UNAUTHENTICATED' | 'FORBIDDEN'; message: string; field?: readonly string[] };

export function authorize(actor: Actor | null | undefined, action: Action, resource?: Resource): Decision {
  const min = MIN_ROLE[action];
  if (min === null) return { allowed: true };
  if (!actor) {
    return { allowed: false, status: 401, code: 'UNAUTHENTICATED', message: 'sign in first: send Authorization: Bearer <token>' };
  }
  const who = actor.id ?? 'this caller';
  if (RANK[actor.role] < RANK[min]) {
    return { allowed: false, status: 403, code: 'FORBIDDEN', message: `${who} has role ${actor.role}; ${action} needs role ${min} or admin` };
  }
  if (actor.role === 'admin' || !resource) return { allowed: true };
  switch (action) {
    case 'run.execute':
      if (resource.ownerId != null && resource.ownerId !== actor.id) {
        return {
          allowed: false,
          status: 403,
          code: 'FORBIDDEN',
          message: `owner: only an admin may execute as another owner; leave it out or send ${JSON.stringify(actor.id)}`,
          field: ['owner'],
        };
      }
      return { allowed: true };
    case 'run.stop':
    case 'run.report':
      if (resource.ownerId !== actor.id) {
        return {
          allowed: false,
          status: 403,
          code: 'FORBIDDEN',
          message: `${who} may ${action === 'run.stop' ? 'stop' : 'report on'} only its own runs; this run belongs to ${resource.ownerId ?? 'nobody'}`,
        };
      }
      return { allowed: true };
    case 'definition.delete':
      if (resource.createdBy !== actor.id) {
        return { allowed: false, status: 403, code: 'FORBIDDEN', message: `${who} may delete only definitions it created; ask an admin` };
      }
      return { allowed: true };
    default:
      return { allowed: true };
  }
}

/** authorize, throwing the error the API layers map to 401/403 (GraphQL: UNAUTHENTICATED/FORBIDDEN). */
export function assertAllowed(actor: Actor | null | undefined, action: Action, resource?: Resource): void {
  const d = authorize(actor, action, resource);
  if (d.allowed) return;
  throw d.status === 401 ? new UnauthenticatedError(d.message) : new ForbiddenError(d.message, d.field);
}

/** What a role may do at all (the console hides the rest). */
export function allowedActions(actor: Actor | null): Action[] {
  return ACTIONS.filter((a) => authorize(actor, a).allowed);
}
