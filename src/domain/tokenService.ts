// API tokens for FLOTILLA_AUTH=token: created, listed and revoked by an admin (the CLI, which
// holds the database credentials, acts as one). The secret is returned once, never stored.
import type { Db } from '../db/client.js';
import { ValidationError } from '../errors.js';
import { insertToken, listTokens, revokeToken } from '../store/tokens.js';
import { ROLES, assertAllowed, type Actor, type Role } from './authorization.js';

/** `90d`, `12h`, `30m` → milliseconds. */
export function parseExpiry(value: string): number {
  const m = /^\s*(\d+)\s*(d|h|m)\s*$/.exec(value);
  if (!m || Number(m[1]) <= 0)
    throw new ValidationError([{ path: ['expires'], message: `--expires ${JSON.stringify(value)}: use a number of days, hours or minutes (90d, 12h, 30m)` }]);
  return Number(m[1]) * (m[2] === 'd' ? 86_400_000 : m[2] === 'h' ? 3_600_000 : 60_000);
}

export function createTokenService(deps: { db: Db }) {
  const { db } = deps;
  return {
    async create(input: { owner: string; role: string; expires?: string }, actor: Actor) {
      assertAllowed(actor, 'token.manage');
      const owner = input.owner.trim();
      if (!owner) throw new ValidationError([{ path: ['owner'], message: '--owner must name who the token acts as (the owner id of its runs)' }]);
      if (!(ROLES as readonly string[]).includes(input.role)) {
        throw new ValidationError([{ path: ['role'], message: `--role must be one of ${ROLES.join(', ')}` }]);
      }
      const expiresAt = input.expires ? new Date(Date.now() + parseExpiry(input.expires)) : null;
      return insertToken(db, { owner, role: input.role as Role, expiresAt, createdBy: actor.id ?? null });
    },
    async list(actor: Actor) {
      assertAllowed(actor, 'token.manage');
      return listTokens(db);
    },
    async revoke(tokenId: string, actor: Actor): Promise<boolean> {
      assertAllowed(actor, 'token.manage');
      return revokeToken(db, tokenId, actor.id ?? null);
    },
  };
}
