// Who is calling: the request's credential turned into an Actor, for each FLOTILLA_AUTH mode.
// No credential is an anonymous caller (null actor: only health is open to it); a credential
// that does not check out is an error (401). What the actor may do is decided elsewhere
// (domain/authorization.ts).
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { SecurityConfig } from '../config.js';
import type { Db } from '../db/client.js';
import { LOCAL_ADMIN, type Actor, type Role } from '../domain/authorization.js';
import { findLiveToken } from '../store/tokens.js';

export interface Credentials {
  headers: Headers;
  /** The peer's address (proxy mode trusts identity headers only from FLOTILLA_TRUSTED_PROXIES). */
  remoteAddress?: string;
  /** graphql-ws connection_init payload: `{ authorization: 'Bearer …' }` (or `token`). */
  connectionParams?: Record<string, unknown>;
}

export type AuthResult = { actor: Actor; error?: undefined } | { actor: null; error?: string };

export interface Authenticator {
  mode: SecurityConfig['auth'];
  authenticate(c: Credentials): Promise<AuthResult>;
}

export interface AuthenticatorOptions {
  /** How long jose waits before fetching the JWKS again for an unknown key id (default 30 s). */
  jwksCooldownMs?: number;
}

/** The challenge sent with every 401. */
export function wwwAuthenticate(error?: string): string {
  return error ? `Bearer realm="flotilla", error="invalid_token", error_description=${JSON.stringify(error)}` : 'Bearer realm="flotilla"';
}

function bearer(c: Credentials): string | undefined {
  const params = c.connectionParams ?? {};
  const fromParams = [params.authorization, params.Authorization, params.token].find((v): v is string => typeof v === 'string');
  const header = c.headers.get('authorization') ?? fromParams;
  if (!header) return undefined;
  const m = /^\s*Bearer\s+(\S+)\s*$/i.exec(header);
  if (m) return m[1];
  return fromParams === header && !/\s/.test(header.trim()) ? header.trim() : '';
}

export function roleFromGroups(groups: string[], config: SecurityConfig): Role {
  if (groups.some((g) => config.adminGroups.includes(g))) return 'admin';
  if (groups.some((g) => config.userGroups.includes(g))) return 'user';
  return config.defaultRole;
}

function claimGroups(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  if (typeof value === 'string') return value.split(/[,\s]+/).filter(Boolean);
  return [];
}

export function trustedProxyList(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const entry of cidrs) {
    const [addr, bits] = entry.split('/');
    const type = isIPv6(addr!) ? 'ipv6' : 'ipv4';
    if (!isIPv4(addr!) && !isIPv6(addr!)) throw new Error(`FLOTILLA_TRUSTED_PROXIES: "${entry}" is not an address or CIDR (10.0.0.0/8, ::1)`);
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return list;
}

function isTrusted(list: BlockList, address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIPv4(v4)) return list.check(v4, 'ipv4');
  return isIPv6(address) && list.check(address, 'ipv6');
}

export function createAuthenticator(config: SecurityConfig, db: Db | undefined, opts: AuthenticatorOptions = {}): Authenticator {
  const mode = config.auth;
  if (mode === 'none') return { mode, authenticate: async () => ({ actor: LOCAL_ADMIN }) };

  if (mode === 'token') {
    return {
      mode,
      async authenticate(c) {
        const secret = bearer(c);
        if (secret === undefined) return { actor: null };
        if (!secret || !db) return { actor: null, error: 'send the token as Authorization: Bearer <token>' };
        const row = await findLiveToken(db, secret);
        if (!row) return { actor: null, error: 'the token is unknown, expired or revoked' };
        return { actor: { id: row.owner, role: row.role as Role, via: 'token' } };
      },
    };
  }

  if (mode === 'oidc') {
    const { issuer, audience, ownerClaim, groupsClaim, clockSkewSeconds } = config.oidc;
    let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
    const keySet = async () => {
      if (jwks) return jwks;
      let uri = config.oidc.jwksUrl;
      if (!uri) {
        const res = await fetch(new URL('.well-known/openid-configuration', issuer!.endsWith('/') ? issuer : issuer + '/'));
        if (!res.ok) throw new Error(`OIDC discovery at ${issuer} answered ${res.status}: set FLOTILLA_OIDC_JWKS_URL`);
        uri = ((await res.json()) as { jwks_uri?: string }).jwks_uri;
        if (!uri) throw new Error(`OIDC discovery at ${issuer} names no jwks_uri: set FLOTILLA_OIDC_JWKS_URL`);
      }
      jwks = createRemoteJWKSet(new URL(uri), { cooldownDuration: opts.jwksCooldownMs ?? 30_000 });
      return jwks;
    };
    return {
      mode,
      async authenticate(c) {
        const token = bearer(c);
        if (token === undefined) return { actor: null };
        if (!token) return { actor: null, error: 'send the ID or access token as Authorization: Bearer <jwt>' };
        let payload: JWTPayload;
        try {
          ({ payload } = await jwtVerify(token, await keySet(), { issuer, audience, clockTolerance: clockSkewSeconds }));
        } catch (err) {
          if (err instanceof joseErrors.JOSEError) return { actor: null, error: `the token does not check out: ${err.code} ${err.message}` };
          throw err;
        }
        const owner = payload[ownerClaim];
        if (typeof owner !== 'string' || owner === '') return { actor: null, error: `the token has no ${ownerClaim} claim (FLOTILLA_OIDC_OWNER_CLAIM)` };
        return { actor: { id: owner, role: roleFromGroups(claimGroups(payload[groupsClaim]), config), via: 'oidc' } };
      },
    };
  }

  const trusted = trustedProxyList(config.trustedProxies);
  return {
    mode,
    async authenticate(c) {
      // From anywhere else the headers are anybody's to send: ignored.
      if (!isTrusted(trusted, c.remoteAddress)) return { actor: null };
      const email = config.proxyEmailHeaders.map((h) => c.headers.get(h)?.trim()).find(Boolean);
      if (!email) return { actor: null };
      const groups = config.proxyGroupsHeaders.flatMap((h) => claimGroups(c.headers.get(h) ?? undefined));
      return { actor: { id: email, role: roleFromGroups(groups, config), via: 'proxy' } };
    },
  };
}
