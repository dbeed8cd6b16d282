// Filters, sort and page of a list page live in the URL's query string, so a view can be
// shared and survives a reload. Each page declares its fields; defaults are left out of the URL.

export type FieldSpec = { kind: 'string'; default?: string } | { kind: 'list'; default?: readonly string[] } | { kind: 'int'; default?: number };

export type Specs = Record<string, FieldSpec>;

export type Values<S extends Specs> = {
  [K in keyof S]: S[K] extends { kind: 'list' } ? string[] : S[K] extends { kind: 'int' } ? number : string;
};

export function readFilters<S extends Specs>(specs: S, params: URLSearchParams): Values<S> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.kind === 'list') {
      // `status=RUNNING&status=QUEUED` or `status=RUNNING,QUEUED`; a lone `status=` means "none".
      const raw = params.getAll(name);
      out[name] = raw.length === 0 ? [...(spec.default ?? [])] : raw.flatMap((v) => v.split(',')).filter((v) => v !== '');
    } else if (spec.kind === 'int') {
      const n = Number.parseInt(params.get(name) ?? '', 10);
      out[name] = Number.isFinite(n) && n >= 0 ? n : (spec.default ?? 0);
    } else {
      out[name] = params.get(name) ?? spec.default ?? '';
    }
  }
  return out as Values<S>;
}

export function writeFilters<S extends Specs>(specs: S, values: Partial<Values<S>>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [name, spec] of Object.entries(specs)) {
    const value = (values as Record<string, unknown>)[name];
    if (value === undefined) continue;
    if (spec.kind === 'list') {
      const list = value as string[];
      const def = spec.default ?? [];
      if (sameList(list, def)) continue;
      // An empty list that differs from a non-empty default must stay visible.
      params.set(name, list.join(','));
    } else if (spec.kind === 'int') {
      if (value !== (spec.default ?? 0)) params.set(name, String(value));
    } else if (value !== (spec.default ?? '') && value !== '') {
      params.set(name, String(value));
    }
  }
  return params;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\0') === [...b].sort().join('\0');
}

/** `alias` → ascending by alias, `-alias` → descending. */
export function parseSort(value: string): { field: string; direction: 'ASC' | 'DESC' } | undefined {
  if (!value) return undefined;
  const desc = value.startsWith('-');
  const field = desc ? value.slice(1) : value;
  return field ? { field, direction: desc ? 'DESC' : 'ASC' } : undefined;
}

/** Clicking a column: first ascending, then descending, then ascending again. */
export function toggleSort(current: string, field: string): string {
  return current === field ? `-${field}` : field;
}
