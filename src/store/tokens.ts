// API tokens (FLOTILLA_AUTH=token). The secret is shown once at creation; the table keeps its
// SHA-256 only, so a leaked database does not leak working tokens.
import { createHash, randomBytes } from 'node:crypto';
import { and, asc, eq, isNull } from 'drizzle-orm';
import type { DbOrTx } from '../db/client.js';
import { apiTokens, type ApiTokenRow } from '../db/schema.js';

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** `flt_<id>_<secret>`: the id names the token in lists and revocations, the rest is the secret. */
export function newTokenSecret(): { tokenId: string; secret: string } {
  const tokenId = randomBytes(6).toString('hex');
  return { tokenId, secret: `flt_${tokenId}_${randomBytes(24).toString('base64url')}` };
}

export async function insertToken(
  db: DbOrTx,
  t: { owner: string; role: string; expiresAt?: Date | null; createdBy?: string | null },
): Promise<{ row: ApiTokenRow; secret: string }> {
  const { tokenId, secret } = newTokenSecret();
  const [row] = await db
    .insert(apiTokens)
    .values({ tokenId, hash: hashToken(secret), owner: t.owner, role: t.role, expiresAt: t.expiresAt ?? null, createdBy: t.createdBy ?? null })
    .returning();
  return { row: row!, secret };
}

/** The token with this secret, if it exists, is not revoked and has not expired. */
export async function findLiveToken(db: DbOrTx, secret: string, now = new Date()): Promise<ApiTokenRow | undefined> {
  const [row] = await db
    .select()
    .from(apiTokens)
    .where(and(eq(apiTokens.hash, hashToken(secret)), isNull(apiTokens.revokedAt)));
  if (!row || (row.expiresAt && row.expiresAt <= now)) return undefined;
  return row;
}

export async function listTokens(db: DbOrTx): Promise<ApiTokenRow[]> {
  return db.select().from(apiTokens).orderBy(asc(apiTokens.createdAt));
}

export async function revokeToken(db: DbOrTx, tokenId: string, by: string | null): Promise<boolean> {
  const rows = await db
    .update(apiTokens)
    .set({ revokedAt: new Date(), revokedBy: by })
    .where(and(eq(apiTokens.tokenId, tokenId), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.tokenId });
  return rows.length > 0;
}
