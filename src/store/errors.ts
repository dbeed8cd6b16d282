// What a failed statement means, read from the driver's error (postgres.js and PGlite both
// carry the SQLSTATE in `code`, possibly on a wrapped cause).

/** A unique index refused the row (SQLSTATE 23505). */
export function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: string }).code === '23505') return true;
  }
  return false;
}
