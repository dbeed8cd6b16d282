// Shared pieces of the REST shim: the JSON envelope, lenient body parsing, error mapping.
import type { Context } from 'hono';
import { FlotillaError, ValidationError } from '../../errors.js';
import { LOCAL_ADMIN, type Actor } from '../../domain/authorization.js';
import { wwwAuthenticate } from '../../auth/authenticate.js';
import type { Logger } from '../../logger.js';
import { inRestWords } from './fieldWords.js';

export const JSON_TYPE = 'application/json; charset=utf-8';

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': JSON_TYPE, ...headers } });
}

export function errorJson(message: string, status: number): Response {
  return json({ error: message }, status);
}

/**
 * Lower-cases object keys: the classic API matched JSON keys case-insensitively. Built with
 * fromEntries, so a `__proto__` key stays an (ignored) own key: assigning it would make the
 * object inside it the prototype, and its keys would read as fields of the body.
 */
export function lowerKeys(value: unknown, depth = 1): unknown {
  if (depth < 0 || value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Parses the request body as a JSON object; a missing body is `{}`. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`request body is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ValidationError('request body must be a JSON object');
  }
  return lowerKeys(parsed) as Record<string, unknown>;
}

/** The caller the front door identified (null: no credential); the local admin when none ran. */
export function actorOf(c: Context): Actor | null {
  const actor = c.get('actor' as never) as Actor | null | undefined;
  return actor === undefined ? LOCAL_ADMIN : actor;
}

const STATUS_BY_CODE: Record<string, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  VALIDATION: 400,
  CONFLICT: 409,
};

/** One error envelope for the whole shim; unexpected errors are masked and logged. */
export function errorResponse(thrown: unknown, logger: Logger, c: Context): Response {
  const err = inRestWords(thrown);
  if (err instanceof FlotillaError && STATUS_BY_CODE[err.code]) {
    if (err.code === 'UNAUTHENTICATED') return json({ error: err.message }, 401, { 'www-authenticate': wwwAuthenticate() });
    return errorJson(err.message, STATUS_BY_CODE[err.code]!);
  }
  logger.error({ err, method: c.req.method, path: c.req.path }, 'unexpected error in REST handler');
  return errorJson('internal server error', 500);
}
