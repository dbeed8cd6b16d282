// Request headers both transports read the same way (REST and GraphQL share it).
import type { Actor } from '../domain/authorization.js';

/** The e-mail of whoever stops a run: any request header whose name contains `-email`. */
export function stopperEmail(headers: Headers): string | undefined {
  for (const [name, value] of headers) {
    if (name.toLowerCase().includes('-email') && value.trim()) return value.trim();
  }
  return undefined;
}

/**
 * Who stopped a run. With FLOTILLA_AUTH=none anyone may say (the classic `-email` header);
 * signed in, it is the identity, whatever headers the request carries.
 */
export function stopOptions(actor: Actor | null, headers: Headers): { by: string | undefined; actor: Actor | null } {
  return { by: actor?.via === 'none' ? stopperEmail(headers) : (actor?.id ?? undefined), actor };
}
