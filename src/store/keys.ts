// The store-level guard for lookups: a key Postgres cannot hold (text refuses U+0000)
// matches no row, so every store function that looks rows up by a caller's id, name or alias
// answers "not found" for it instead of sending it and failing in the driver (a 500). Callers
// never check keys themselves. (Input that is to be *stored* is refused as bad input by the
// storability guard in domain/validation.ts instead.)

export function isStorableKey(key: string): boolean {
  return !key.includes('\0');
}

/** The keys of `keys` that can match a row. */
export function storableKeys(keys: readonly string[]): string[] {
  return keys.filter(isStorableKey);
}
