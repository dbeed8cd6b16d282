// Input validation shared by every service: zod issues turned into ValidationError with
// field paths in the domain's own names, and the one storability guard. Each transport
// restates the issues in its own words (api/rest/fieldWords.ts, api/graphql/fieldWords.ts).
import { z } from 'zod';
import { ForbiddenError, ValidationError, type FieldIssue } from '../errors.js';

export type FieldPath = readonly (string | number)[];

/**
 * A field path written out, the one form every transport uses: keys joined by dots, array
 * indexes in brackets (`env[0].value`). `name` gives each key in a transport's own words.
 */
export function fieldName(path: readonly PropertyKey[], name: (key: string) => string = (k) => k): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? name(String(p)) : `.${name(String(p))}`;
  return out;
}

export function toValidationError(error: z.ZodError): ValidationError {
  const issues: FieldIssue[] = error.issues.map((i) => {
    const path = i.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    const field = fieldName(path);
    // Messages written for a field already start with its name; generic ones get it prefixed.
    const message = i.message.startsWith(field) || field === '' ? i.message : `${field}: ${i.message}`;
    const unstorable = i.code === 'custom' ? (i.params as { unstorable?: string } | undefined)?.unstorable : undefined;
    return unstorable ? { path, message, unstorable } : { path, message };
  });
  return new ValidationError(issues);
}

export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw toValidationError(result.error);
  return result.data;
}

/** camelCase → snake_case. */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

// A UTF-16 surrogate without its other half: not a Unicode character.
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why Postgres cannot store `s` as given, or undefined: text and jsonb refuse U+0000, jsonb
 * refuses an unpaired surrogate (and text would silently turn it into U+FFFD). Such input is
 * refused as bad input naming the field, rather than failing in the driver (a 500).
 */
export function unstorableText(s: string): string | undefined {
  if (s.includes('\0')) return 'NUL characters';
  if (UNPAIRED_SURROGATE.test(s)) return 'unpaired UTF-16 surrogates (it is not valid Unicode)';
  return undefined;
}

/** Whether objects or arrays nest more than `limit` levels below `value`; iterative, so any depth is safe. */
export function deeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limit) return true;
    for (const item of Object.values(v)) stack.push([item, depth + 1]);
  }
  return false;
}

/**
 * Every string and object key inside `value` that Postgres cannot store, in document order,
 * each with its path below `at`. A key is reported at the path of the object holding it.
 * Iterative, so a document nested any depth is walked without overflowing the stack.
 */
export function unstorableIssues(value: unknown, at: FieldPath = []): FieldIssue[] {
  const issues: FieldIssue[] = [];
  // Each entry links to its parent, so a path is built only for what is reported.
  type Place = { parent?: Place; key?: string | number };
  const pathOf = (place: Place): (string | number)[] => {
    const keys: (string | number)[] = [];
    for (let p: Place | undefined = place; p?.parent; p = p.parent) keys.push(p.key!);
    return [...at, ...keys.reverse()];
  };
  const stack: [unknown, Place][] = [[value, {}]];
  while (stack.length > 0) {
    const [v, place] = stack.pop()!;
    if (typeof v === 'string') {
      const reason = unstorableText(v);
      if (reason) {
        const path = pathOf(place);
        issues.push({ path, message: `${fieldName(path)} must not contain ${reason}`, unstorable: reason });
      }
    } else if (v !== null && typeof v === 'object') {
      const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((item, i) => [i, item]) : Object.entries(v);
      const badKey = Array.isArray(v) ? undefined : entries.map(([k]) => unstorableText(String(k))).find(Boolean);
      if (badKey) {
        const path = pathOf(place);
        issues.push({ path, message: `${fieldName(path) || 'input'} keys must not contain ${badKey}`, unstorable: badKey });
      }
      // Pushed last-first, so they are popped (and reported) in document order.
      for (let i = entries.length - 1; i >= 0; i--) stack.push([entries[i]![1], { parent: place, key: entries[i]![0] }]);
    }
  }
  return issues;
}

/**
 * The storability guard for a value outside an input schema (a list filter, a query
 * parameter): a ValidationError naming where it is.
 */
export function assertStorable(value: unknown, at: FieldPath): void {
  const issues = unstorableIssues(value, at);
  if (issues.length) throw new ValidationError(issues);
}

/**
 * The storability guard, applied once at the top of an input schema: on the parsed value
 * (known fields only, after the field rules passed), every string and object key Postgres
 * cannot store is an issue naming its field. Every input schema goes through this.
 */
export function storable<T extends z.ZodType>(schema: T): T {
  return schema.superRefine((value, ctx) => {
    for (const issue of unstorableIssues(value)) {
      ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message, params: { unstorable: issue.unstorable } });
    }
  }) as T;
}

/**
 * A ValidationError restated in a transport's words: each issue's path and the field named
 * at the head of its message are rewritten by `words`. The error keeps its class.
 */
export interface FieldWords {
  /** The transport's path of a domain path. */
  path(path: FieldPath): (string | number)[];
  /** A message the transport words its own way (its classic phrasing), else undefined. */
  message?(issue: FieldIssue): string | undefined;
}

/** A refusal about an input field, its field named in a transport's words. */
export function restateRefusal(err: ForbiddenError, words: FieldWords): ForbiddenError {
  if (!err.field) return err;
  const message = renameHead({ path: [...err.field], message: err.message }, words);
  return new ForbiddenError(message, words.path(err.field));
}

export function restate(err: ValidationError, words: FieldWords): ValidationError {
  const issues = err.issues.map((issue) => {
    const message = words.message?.(issue) ?? renameHead(issue, words);
    return { ...issue, path: words.path(issue.path), message };
  });
  const Kind = err.constructor as new (issues: FieldIssue[], options?: { cause?: unknown }) => ValidationError;
  return new Kind(issues, { cause: err.cause });
}

/** The longest prefix of the issue's path that the message starts with, renamed. */
function renameHead(issue: FieldIssue, words: FieldWords): string {
  for (let n = issue.path.length; n > 0; n--) {
    const head = fieldName(issue.path.slice(0, n));
    const next = issue.message.charAt(head.length);
    if (issue.message.startsWith(head) && (next === '' || ' :.['.includes(next))) {
      return fieldName(words.path(issue.path.slice(0, n))) + issue.message.slice(head.length);
    }
  }
  return issue.message;
}
