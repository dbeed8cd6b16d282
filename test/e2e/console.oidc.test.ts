// Signing the console in through an identity provider (FLOTILLA_AUTH=oidc), in Chromium:
// authorization code with PKCE against a small local provider (discovery, authorize, token,
// JWKS, keys made by jose). The provider checks the PKCE verifier; the API checks the ID
// token's signature, issuer and audience, and the console shows who signed in.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { type ConsoleSession, type DevServer, HAVE_CHROMIUM, openConsole, SKIP_REASON } from './console.js';

if (!HAVE_CHROMIUM) console.warn(SKIP_REASON);

const CLIENT_ID = 'flotilla-console';

describe.skipIf(!HAVE_CHROMIUM)('console sign-in (Chromium, FLOTILLA_AUTH=oidc)', () => {
  let idp: Server;
  let issuer: string;
  let session: ConsoleSession;
  let server: DevServer;
  let page: Page;
  const pkceChecked: boolean[] = [];

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
    const codes = new Map<string, { challenge: string; redirect: string }>();
    idp = createServer((req, res) => {
      const url = new URL(req.url ?? '/', issuer);
      res.setHeader('access-control-allow-origin', '*');
      res.setHeader('access-control-allow-headers', '*');
      const json = (body: unknown, status = 200) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method === 'OPTIONS') return res.end();
      if (url.pathname === '/.well-known/openid-configuration') {
        return json({
          issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['none'],
        });
      }
      if (url.pathname === '/jwks') return json({ keys: [jwk] });
      if (url.pathname === '/authorize') {
        // Signs "dana" in at once: a real provider would show its login page here.
        const code = randomBytes(12).toString('hex');
        codes.set(code, { challenge: url.searchParams.get('code_challenge') ?? '', redirect: url.searchParams.get('redirect_uri') ?? '' });
        const back = new URL(url.searchParams.get('redirect_uri')!);
        back.searchParams.set('code', code);
        back.searchParams.set('state', url.searchParams.get('state') ?? '');
        res.writeHead(302, { location: back.href });
        return res.end();
      }
      if (url.pathname === '/token' && req.method === 'POST') {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const form = new URLSearchParams(body);
          const grant = codes.get(form.get('code') ?? '');
          const verifier = form.get('code_verifier') ?? '';
          const ok = !!grant && createHash('sha256').update(verifier).digest('base64url') === grant.challenge && form.get('redirect_uri') === grant.redirect;
          pkceChecked.push(ok);
          if (!ok) return json({ error: 'invalid_grant' }, 400);
          void new SignJWT({ email: 'dana@example.com', groups: ['dev'] })
            .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
            .setIssuer(issuer)
            .setAudience(CLIENT_ID)
            .setSubject('dana')
            .setIssuedAt()
            .setExpirationTime('10m')
            .sign(privateKey)
            .then((idToken) => json({ access_token: 'opaque-access-token', id_token: idToken, token_type: 'Bearer', expires_in: 600 }));
        });
        return;
      }
      json({ error: 'not found' }, 404);
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    session = await openConsole('oidc', {
      env: {
        FLOTILLA_AUTH: 'oidc',
        FLOTILLA_OIDC_ISSUER: issuer,
        FLOTILLA_OIDC_AUDIENCE: CLIENT_ID,
        FLOTILLA_OIDC_CLIENT_ID: CLIENT_ID,
        FLOTILLA_USER_GROUPS: 'dev',
      },
      timeoutMs: 20_000,
    });
    ({ server, page } = session);
  }, 180_000);

  afterAll(async () => {
    await session?.close();
    await new Promise<void>((resolve) => (idp ? idp.close(() => resolve()) : resolve()));
  }, 60_000);

  it('signs in with authorization code + PKCE and shows who signed in, with the role from the groups claim', async () => {
    await page.goto(`${server.url}/tasks`);
    await page.getByRole('button', { name: /^Sign in with 127\.0\.0\.1/ }).click();
    await page.locator('.signed-in').filter({ hasText: 'dana@example.com' }).waitFor();
    expect(await page.locator('.signed-in').textContent()).toContain('(user)');
    expect(pkceChecked).toEqual([true]);
    await page.getByRole('link', { name: 'New task' }).waitFor();
  });
});
