// Turning zod issues into ValidationError with field paths and messages that name the
// field and say what to send instead.
import type { z } from 'zod';
import { ValidationError, type FieldIssue } from '../errors.js';

export function toValidationError(error: z.ZodError, publicName: (key: string) => string = (k) => k): ValidationError {
  const issues: FieldIssue[] = error.issues.map((i) => {
    const path = i.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    const field = path
      .map((p) => (typeof p === 'number' ? `[${p}]` : publicName(p)))
      .join('.')
      .replace(/\.\[/g, '[');
    // Messages written for a field already start with its name; generic ones get it prefixed.
    const message = i.message.startsWith(field) || field === '' || i.message.startsWith('string [') ? i.message : `${field}: ${i.message}`;
    return { path, message };
  });
  return new ValidationError(issues);
}

export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, publicName?: (key: string) => string): z.output<T> {
  const result = schema.safeParse(input);
  if (!result.success) throw toValidationError(result.error, publicName);
  return result.data;
}

/** camelCase → snake_case, for the REST/DB names used in messages. */
export function snakeCase(key: string): string {
  return key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

// A UTF-16 surrogate without its other half: not a Unicode character.
const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why Postgres cannot store `s` as given, or undefined: text and jsonb refuse U+0000, jsonb
 * refuses an unpaired surrogate (and text would silently turn it into U+FFFD). Callers
 * refuse such input as bad input naming the field, rather than fail in the driver (a 500).
 */
export function unstorableText(s: string): string | undefined {
  if (s.includes('\0')) return 'NUL characters';
  if (UNPAIRED_SURROGATE.test(s)) return 'unpaired UTF-16 surrogates (it is not valid Unicode)';
  return undefined;
}
