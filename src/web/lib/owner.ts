// Until sign-in exists, the run form's owner is remembered in this browser.
const KEY = 'flotilla.owner';

export function rememberedOwner(storage: Pick<Storage, 'getItem'> | undefined = globalThis.localStorage): string {
  try {
    return storage?.getItem(KEY) ?? '';
  } catch {
    return '';
  }
}

export function rememberOwner(owner: string, storage: Pick<Storage, 'setItem'> | undefined = globalThis.localStorage): void {
  try {
    storage?.setItem(KEY, owner);
  } catch {
    // Private mode or a full quota: the field just is not prefilled next time.
  }
}

/** A fresh key per submit: a double click sends the same key twice and makes one run. */
export function newIdempotenceKey(): string {
  return `console-${crypto.randomUUID()}`;
}
