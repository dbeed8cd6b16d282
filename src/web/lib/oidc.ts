// Sign-in through the identity provider (FLOTILLA_AUTH=oidc): authorization code with PKCE,
// done by oauth4webapi. The console is a public client (no secret). The token the API checks
// is the ID token when the API's audience is the console's client id, else the access token.
import * as oauth from 'oauth4webapi';
import type { AuthConfig } from './auth.js';

const VERIFIER = 'flotilla.oidc.verifier';
const STATE = 'flotilla.oidc.state';
export const CALLBACK_PATH = '/auth/callback';

type OidcConfig = NonNullable<AuthConfig['oidc']> & { clientId: string };

const redirectUri = () => window.location.origin + CALLBACK_PATH;
// Plain http only for an issuer on this machine (tests, a local provider).
const insecure = (issuer: URL) => ({ [oauth.allowInsecureRequests]: issuer.protocol === 'http:' && ['127.0.0.1', 'localhost'].includes(issuer.hostname) });

async function discover(cfg: OidcConfig): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(cfg.issuer);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure(issuer)));
}

export async function startOidcSignIn(cfg: OidcConfig): Promise<void> {
  const as = await discover(cfg);
  if (!as.authorization_endpoint) throw new Error(`${cfg.issuer} names no authorization endpoint`);
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  sessionStorage.setItem(VERIFIER, verifier);
  sessionStorage.setItem(STATE, state);
  const url = new URL(as.authorization_endpoint);
  url.searchParams.set('client_id', cfg.clientId);
  url.searchParams.set('redirect_uri', redirectUri());
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', 'openid email profile');
  url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set('code_challenge_method', 'S256');
  url.searchParams.set('state', state);
  window.location.assign(url.href);
}

/** On the callback page: trades the code for tokens; returns the one to send to the API. */
export async function finishOidcSignIn(cfg: OidcConfig): Promise<string> {
  const as = await discover(cfg);
  const client: oauth.Client = { client_id: cfg.clientId };
  const params = oauth.validateAuthResponse(as, client, new URL(window.location.href), sessionStorage.getItem(STATE) ?? oauth.expectNoState);
  const response = await oauth.authorizationCodeGrantRequest(
    as,
    client,
    oauth.None(),
    params,
    redirectUri(),
    sessionStorage.getItem(VERIFIER) ?? '',
    insecure(new URL(cfg.issuer)),
  );
  const result = await oauth.processAuthorizationCodeResponse(as, client, response);
  sessionStorage.removeItem(VERIFIER);
  sessionStorage.removeItem(STATE);
  const token = cfg.audience === cfg.clientId ? result.id_token : result.access_token;
  if (!token) throw new Error('the identity provider returned no token for this API');
  return token;
}
