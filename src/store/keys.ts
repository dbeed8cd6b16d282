// A lookup key Postgres cannot hold (text refuses U+0000) matches no row: store getters
// answer "not found" for it instead of sending it and failing in the driver (a 500).

export function isStorableKey(key: string): boolean {
  return !key.includes('\0');
}
