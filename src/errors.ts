// Errors with a stable `code`. API layers map codes to HTTP statuses / GraphQL result types;
// workers map engine errors to run statuses.

export type ErrorCode = 'NOT_FOUND' | 'VALIDATION' | 'CONFLICT' | 'RETRYABLE_ENGINE' | 'PERMANENT_ENGINE' | 'UNAUTHENTICATED' | 'FORBIDDEN' | 'INTERNAL';

export class FlotillaError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export class NotFoundError extends FlotillaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_FOUND', message, options);
  }
}

export interface FieldIssue {
  /** Path of the offending field, e.g. ["env", 0, "name"], in the domain's names until a transport restates it. */
  path: (string | number)[];
  message: string;
  /** Set by the storability guard (domain/validation.ts): why Postgres cannot store the text. */
  unstorable?: string;
}

export class ValidationError extends FlotillaError {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[] | string, options?: { cause?: unknown }) {
    const list = typeof issues === 'string' ? [{ path: [], message: issues }] : issues;
    super('VALIDATION', list.map((i) => i.message).join('\n'), options);
    this.issues = list;
  }
}

/**
 * A template payload that fails the template's JSON Schema, or renders a command that
 * cannot be made: a ValidationError (400 over REST) that GraphQL reports as its own type.
 */
export class TemplatePayloadError extends ValidationError {}

export class ConflictError extends FlotillaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CONFLICT', message, options);
  }
}

/** Backend busy, throttled, unreachable: try again later. */
export class RetryableEngineError extends FlotillaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RETRYABLE_ENGINE', message, options);
  }
}

/** Invalid spec, forbidden, rejected image: trying again will not help. */
export class PermanentEngineError extends FlotillaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PERMANENT_ENGINE', message, options);
  }
}

/** No credential, or one that does not check out: answered 401 with WWW-Authenticate. */
export class UnauthenticatedError extends FlotillaError {
  constructor(message: string) {
    super('UNAUTHENTICATED', message);
  }
}

/** A known identity without the right to do this: answered 403. */
export class ForbiddenError extends FlotillaError {
  /**
   * `field`: the input field (a domain path) the refusal is about, named at the head of the
   * message (`owner: …`) so each transport can restate it in its own words.
   */
  constructor(
    message: string,
    readonly field?: readonly (string | number)[],
  ) {
    super('FORBIDDEN', message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
