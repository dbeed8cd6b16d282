// Who the console calls the API as. With FLOTILLA_AUTH=token the pasted token is kept for
// the browser session (sessionStorage: gone when the tab closes) and sent as a bearer token on
// every request and in the WebSocket's connectionParams. With proxy (and none) the browser
// sends nothing: the proxy in front adds the identity. /auth/config says which.
import { stringifyDocument } from '@urql/core';
import { ViewerQuery } from '../graphql/viewer.js';

const TOKEN_KEY = 'flotilla.token';

export interface AuthConfig {
  mode: 'none' | 'token' | 'oidc' | 'proxy';
  oidc?: { issuer: string; clientId: string | null; audience: string };
}

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function signOut(): void {
  sessionStorage.removeItem(TOKEN_KEY);
  window.location.assign('/');
}

export function authHeaders(): Record<string, string> {
  const token = storedToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function loadAuthConfig(): Promise<AuthConfig> {
  const res = await fetch('/auth/config');
  if (!res.ok) return { mode: 'none' };
  return (await res.json()) as AuthConfig;
}

/** Asks the API who a token belongs to; undefined when it is refused. */
export async function checkToken(token: string): Promise<{ ownerId: string | null; role: string } | undefined> {
  const res = await fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    // The console's own (persisted) Viewer operation, so a server that takes known operations only accepts it.
    body: JSON.stringify({ query: stringifyDocument(ViewerQuery) }),
  });
  if (!res.ok) return undefined;
  const body = (await res.json()) as { data?: { viewer?: { ownerId: string | null; role: string } } };
  return body.data?.viewer ?? undefined;
}
