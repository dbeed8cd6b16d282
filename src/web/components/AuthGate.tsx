// Signs the console in before anything else renders. FLOTILLA_AUTH=token: a page where an API
// token is pasted (kept for this browser session). oidc: the same page takes an access token
// from the identity provider. proxy and none: nothing to do. Then the viewer (who, which role,
// what the role may do) is known to every page through useViewer.
import { createContext, useContext, useEffect, useState, type ReactNode } from 'react';
import { useQuery } from 'urql';
import { ViewerQuery } from '../graphql/viewer.js';
import { checkToken, loadAuthConfig, storeToken, storedToken, type AuthConfig } from '../lib/auth.js';
import { CALLBACK_PATH, finishOidcSignIn, startOidcSignIn } from '../lib/oidc.js';

export interface Viewer {
  ownerId: string | null;
  role: string;
  authMode: string;
  can(action: string): boolean;
}

const ViewerContext = createContext<Viewer>({ ownerId: null, role: 'admin', authMode: 'none', can: () => true });

export function useViewer(): Viewer {
  return useContext(ViewerContext);
}

function SignInPage({ config, refused }: { config: AuthConfig; refused: boolean }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(refused ? 'Your token was refused (expired or revoked): paste a new one.' : '');
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setError('');
    const who = await checkToken(token.trim()).catch(() => undefined);
    setBusy(false);
    if (!who) {
      setError('That token was refused: check it is whole, not expired and not revoked.');
      return;
    }
    storeToken(token.trim());
    window.location.reload();
  };
  return (
    <main className="sign-in" id="main">
      <h1>Sign in to Flotilla</h1>
      {config.mode === 'oidc' && config.oidc?.clientId && (
        <p>
          <button
            type="button"
            className="primary"
            onClick={() => void startOidcSignIn({ ...config.oidc!, clientId: config.oidc!.clientId! }).catch((e: Error) => setError(e.message))}
          >
            Sign in with {new URL(config.oidc.issuer).host}
          </button>
        </p>
      )}
      <p>
        {config.mode === 'oidc'
          ? `Paste an access token issued by ${config.oidc?.issuer ?? 'your identity provider'} for this API.`
          : 'Paste an API token (from `flotilla token create`). It is kept for this browser session only.'}
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label>
          Token
          <textarea name="token" rows={3} value={token} onChange={(e) => setToken(e.target.value)} autoFocus spellCheck={false} />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
      </form>
    </main>
  );
}

function ViewerProvider({ children, onRefused }: { children: ReactNode; onRefused: () => void }) {
  const [result] = useQuery({ query: ViewerQuery });
  const code = (result.error?.graphQLErrors[0]?.extensions as { code?: string } | undefined)?.code;
  useEffect(() => {
    if (code === 'UNAUTHENTICATED') onRefused();
  }, [code, onRefused]);
  const v = result.data?.viewer;
  const viewer: Viewer = v
    ? { ownerId: v.ownerId ?? null, role: v.role, authMode: v.authMode, can: (action) => v.allowedActions.includes(action) }
    : { ownerId: null, role: 'viewer', authMode: 'none', can: () => !result.fetching && !result.data };
  return <ViewerContext.Provider value={viewer}>{children}</ViewerContext.Provider>;
}

function OidcCallback({ config }: { config: AuthConfig }) {
  const [error, setError] = useState('');
  useEffect(() => {
    const oidc = config.oidc;
    if (!oidc?.clientId) {
      setError('FLOTILLA_OIDC_CLIENT_ID is not set on the server');
      return;
    }
    finishOidcSignIn({ ...oidc, clientId: oidc.clientId })
      .then((token) => {
        storeToken(token);
        window.location.replace('/');
      })
      .catch((e: Error) => setError(e.message));
  }, [config]);
  return (
    <main className="sign-in" id="main">
      <h1>Signing in…</h1>
      {error && (
        <p role="alert" className="error">
          Sign-in failed: {error}. <a href="/">Try again</a>
        </p>
      )}
    </main>
  );
}

export function AuthGate({ children }: { children: ReactNode }) {
  const [config, setConfig] = useState<AuthConfig | undefined>();
  const [refused, setRefused] = useState(false);
  useEffect(() => {
    void loadAuthConfig()
      .catch((): AuthConfig => ({ mode: 'none' }))
      .then(setConfig);
  }, []);
  if (!config) return null;
  if (config.mode === 'oidc' && window.location.pathname === CALLBACK_PATH) return <OidcCallback config={config} />;
  const needsToken = config.mode === 'token' || config.mode === 'oidc';
  if (needsToken && (!storedToken() || refused)) return <SignInPage config={config} refused={refused} />;
  return <ViewerProvider onRefused={() => setRefused(true)}>{children}</ViewerProvider>;
}
