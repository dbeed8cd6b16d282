// The fake API server's storage: objects by kind, one resourceVersion counter (as etcd's
// revision), a history of changes for watches to replay from a resourceVersion, and a
// compaction floor below which a watch is answered 410 Gone.
import { randomUUID } from 'node:crypto';

export type Kind = 'Job' | 'Pod' | 'Event';
export type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export interface Change {
  rv: number;
  type: WatchType;
  kind: Kind;
  object: KubeObject;
}

const API_VERSION: Record<Kind, string> = { Job: 'batch/v1', Pod: 'v1', Event: 'v1' };

export type Matcher = (obj: KubeObject) => boolean;

/** `a=b,c!=d,e,!f,g in (x,y),h notin (z)` → a predicate on labels. */
export function parseLabelSelector(selector: string | null | undefined): Matcher {
  if (!selector) return () => true;
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  const tests = parts
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p): ((l: Record<string, string>) => boolean) => {
      let m: RegExpExecArray | null;
      if ((m = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(p))) {
        const [, key, op, list] = m;
        const values = list!.split(',').map((v) => v.trim());
        return op === 'in' ? (l) => l[key!] !== undefined && values.includes(l[key!]!) : (l) => l[key!] === undefined || !values.includes(l[key!]!);
      }
      if ((m = /^([^!=\s]+)\s*!=\s*(.*)$/.exec(p))) {
        const [, key, value] = m;
        return (l) => l[key!] !== value;
      }
      if ((m = /^([^!=\s]+)\s*==?\s*(.*)$/.exec(p))) {
        const [, key, value] = m;
        return (l) => l[key!] === value;
      }
      if (p.startsWith('!')) return (l) => l[p.slice(1)] === undefined;
      return (l) => l[p] !== undefined;
    });
  return (obj) => tests.every((t) => t(obj.metadata.labels ?? {}));
}

/** `involvedObject.kind=Pod,metadata.name!=x` → a predicate on fields. */
export function parseFieldSelector(selector: string | null | undefined): Matcher {
  if (!selector) return () => true;
  const tests = selector
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(p);
      if (!m) throw new Error(`bad field selector ${p}`);
      const [, path, op, value] = m;
      return (obj: KubeObject) => {
        let v: unknown = obj;
        for (const key of path!.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[key] : undefined;
        const s = v === undefined || v === null ? '' : String(v);
        return op === '!=' ? s !== value : s === value;
      };
    });
  return (obj) => tests.every((t) => t(obj));
}

/**
 * Stored objects are never changed in place (an update replaces the object with a changed
 * copy), so reads and the history share them without copying. Callers treat what they get
 * as read-only.
 */
export function createStore() {
  let rv = 0;
  let compactedBelow = 0;
  const objects = new Map<Kind, Map<string, KubeObject>>([
    ['Job', new Map()],
    ['Pod', new Map()],
    ['Event', new Map()],
  ]);
  const history: Change[] = [];
  const listeners = new Set<(c: Change) => void>();
  const key = (ns: string, name: string) => `${ns}/${name}`;

  function record(type: WatchType, kind: Kind, object: KubeObject): KubeObject {
    const change: Change = { rv, type, kind, object };
    history.push(change);
    for (const l of [...listeners]) l(change);
    return object;
  }

  return {
    resourceVersion: () => String(rv),
    get(kind: Kind, ns: string, name: string): KubeObject | undefined {
      return objects.get(kind)!.get(key(ns, name));
    },
    list(kind: Kind, ns: string, match: Matcher = () => true): KubeObject[] {
      return [...objects.get(kind)!.values()].filter((o) => o.metadata.namespace === ns && match(o));
    },
    create(kind: Kind, object: KubeObject): KubeObject {
      const obj = structuredClone(object);
      rv += 1;
      obj.apiVersion = API_VERSION[kind];
      obj.kind = kind;
      obj.metadata.uid = randomUUID();
      obj.metadata.resourceVersion = String(rv);
      obj.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      objects.get(kind)!.set(key(obj.metadata.namespace, obj.metadata.name), obj);
      return record('ADDED', kind, obj);
    },
    update(kind: Kind, ns: string, name: string, mutate: (o: KubeObject) => void): KubeObject | undefined {
      const current = objects.get(kind)!.get(key(ns, name));
      if (!current) return undefined;
      const obj = structuredClone(current);
      mutate(obj);
      rv += 1;
      obj.metadata.resourceVersion = String(rv);
      objects.get(kind)!.set(key(ns, name), obj);
      return record('MODIFIED', kind, obj);
    },
    remove(kind: Kind, ns: string, name: string): KubeObject | undefined {
      const current = objects.get(kind)!.get(key(ns, name));
      if (!current) return undefined;
      objects.get(kind)!.delete(key(ns, name));
      rv += 1;
      const obj = { ...current, metadata: { ...current.metadata, resourceVersion: String(rv) } };
      return record('DELETED', kind, obj);
    },
    /** Changes after `since`, or undefined when `since` is older than the compaction floor. */
    changesSince(since: number): Change[] | undefined {
      if (since < compactedBelow) return undefined;
      return history.filter((c) => c.rv > since);
    },
    /**
     * Forgets history, as etcd compaction does: a watch from any resourceVersion seen before is
     * answered 410 Gone; a fresh list gives a version that watches from again.
     */
    compact(): void {
      rv += 1;
      compactedBelow = rv;
      history.length = 0;
    },
    subscribe(listener: (c: Change) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

export type Store = ReturnType<typeof createStore>;
