// Kubernetes API failures → Flotilla's engine errors. The API answers errors as a `Status`
// object whose `message` is what a person needs ("Job.batch "x" is invalid: …").
import { PermanentEngineError, RetryableEngineError, errorMessage } from '../../errors.js';

/** HTTP status of a failed call: client-node's ApiException has `code`, its Watch errors `statusCode`. */
export function httpStatusOf(err: unknown): number | undefined {
  if (!err || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

interface StatusBody {
  message?: string;
  reason?: string;
  code?: number;
}

/** The `Status` the API server sent with an error, when there is one. */
export function statusBodyOf(err: unknown): StatusBody | undefined {
  const body = (err as { body?: unknown } | undefined)?.body;
  if (!body) return undefined;
  if (typeof body === 'object') return body as StatusBody;
  if (typeof body === 'string') {
    try {
      const parsed: unknown = JSON.parse(body);
      return parsed && typeof parsed === 'object' ? (parsed as StatusBody) : undefined;
    } catch {
      return body.trim() ? { message: body.trim() } : undefined;
    }
  }
  return undefined;
}

export function apiMessageOf(err: unknown): string {
  const status = httpStatusOf(err);
  const body = statusBodyOf(err);
  if (body?.message) return body.message;
  if (status !== undefined) return `Kubernetes API answered HTTP ${status}`;
  return errorMessage(err);
}

export function isNotFound(err: unknown): boolean {
  return httpStatusOf(err) === 404;
}

export function isAlreadyExists(err: unknown): boolean {
  return httpStatusOf(err) === 409 && (statusBodyOf(err)?.reason ?? 'AlreadyExists') === 'AlreadyExists';
}

/**
 * Throttling, server errors, timeouts and network failures may pass; an invalid or forbidden
 * request will not. 401 counts as passing: exec and token credentials are refreshed.
 */
export function toEngineError(err: unknown, action: string): RetryableEngineError | PermanentEngineError {
  const status = httpStatusOf(err);
  const message = apiMessageOf(err);
  if (status === undefined || status === 401 || status === 408 || status === 429 || status >= 500) {
    return new RetryableEngineError(`${action}: ${message}`, { cause: err });
  }
  return new PermanentEngineError(message, { cause: err });
}
