// The terminal follower: `flotilla run … --follow` and `flotilla logs … --follow`.
// Executes through REST, follows output over graphql-ws, and resumes from the last cursor
// when the connection drops, so a notebook or CI job sees every line once and gets the
// run's exit code back.
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

/** FLOTILLA_TOKEN (an API token or an OIDC access token) goes along as a bearer credential. */
function authHeader(): Record<string, string> {
  const token = process.env.FLOTILLA_TOKEN?.trim();
  return token ? { authorization: `Bearer ${token}` } : {};
}

export interface FollowOptions {
  url: string;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
  signal?: AbortSignal;
}

interface Chunk {
  seq: number;
  stream: string;
  text: string;
  cursor: string;
}

const LOGS = `subscription Follow($runId: ID!, $after: String) { runLogs(runId: $runId, after: $after) { seq stream text cursor } }`;

export class ClientError extends Error {}

async function http(url: string, init: RequestInit = {}): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, headers: { 'content-type': 'application/json', ...authHeader(), ...(init.headers ?? {}) } });
  } catch (err) {
    throw new ClientError(`cannot reach Flotilla at ${new URL(url).origin} (${(err as Error).message}); set FLOTILLA_URL or start it with \`npm start\``);
  }
  const body = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = body;
  }
  if (!res.ok) {
    const message = (parsed as { error?: string })?.error ?? body;
    throw new ClientError(`${init.method ?? 'GET'} ${new URL(url).pathname} answered ${res.status}: ${message}`);
  }
  return parsed;
}

export function parseEnvPairs(pairs: string[]): { name: string; value: string }[] {
  return pairs.map((p) => {
    const i = p.indexOf('=');
    if (i <= 0) throw new ClientError(`--env ${p}: use NAME=VALUE`);
    return { name: p.slice(0, i), value: p.slice(i + 1) };
  });
}

export async function executeByAlias(url: string, alias: string, body: Record<string, unknown>): Promise<{ run_id: string }> {
  return (await http(`${url}/api/v6/task/alias/${encodeURIComponent(alias)}/execute`, { method: 'PUT', body: JSON.stringify(body) })) as { run_id: string };
}

export interface ResourceExplanation {
  definition_id: string;
  alias: string;
  engine: string;
  cpu: number;
  memory: number;
  reason: string;
}

/** What a run of `definition` (an id, else an alias) would get now, and why. */
export async function explainResources(
  url: string,
  definition: string,
  opts: { engine?: string; cpu?: string; memory?: string; command?: string } = {},
): Promise<ResourceExplanation> {
  const q = new URLSearchParams();
  for (const key of ['engine', 'cpu', 'memory', 'command'] as const) if (opts[key]) q.set(key, opts[key]);
  const suffix = `/explain-resources${q.size ? `?${q}` : ''}`;
  const byId = `${url}/api/v6/task/${encodeURIComponent(definition)}${suffix}`;
  const res = await fetch(byId).catch(() => undefined);
  if (res?.ok) return (await res.json()) as ResourceExplanation;
  // Another error than "no such id" is the answer (http() words it).
  if (res && res.status !== 404) return (await http(byId)) as ResourceExplanation;
  // Not an id: try it as an alias.
  return (await http(`${url}/api/v6/task/alias/${encodeURIComponent(definition)}${suffix}`)) as ResourceExplanation;
}

export async function runStatus(url: string, runId: string): Promise<{ status: string; exit_code?: number; exit_reason?: string }> {
  return (await http(`${url}/api/v6/${encodeURIComponent(runId)}/status`)) as { status: string; exit_code?: number; exit_reason?: string };
}

function wsUrl(url: string): string {
  const u = new URL('/graphql', url);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

/**
 * Writes the run's output from `after` to out/err as it comes; returns when the run is STOPPED
 * and its output complete. Reconnects (from the last cursor) when the connection drops.
 */
export async function followLogs(runId: string, opts: FollowOptions & { after?: string }): Promise<void> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  let cursor = opts.after;
  let failures = 0;
  for (;;) {
    const client: Client = createClient({ url: wsUrl(opts.url), webSocketImpl: WebSocket, retryAttempts: 0, lazy: true, connectionParams: () => authHeader() });
    try {
      const sub = client.iterate<{ runLogs: Chunk }>({ query: LOGS, variables: { runId, after: cursor ?? null } });
      const onAbort = () => void sub.return?.();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        for await (const result of sub) {
          if (result.errors?.length) throw new ClientError(result.errors.map((e) => e.message).join('; '));
          const chunk = result.data?.runLogs;
          if (!chunk) continue;
          (chunk.stream === 'STDERR' ? err : out).write(chunk.text);
          cursor = chunk.cursor;
          failures = 0;
        }
      } finally {
        opts.signal?.removeEventListener('abort', onAbort);
      }
      return;
    } catch (e) {
      if (e instanceof ClientError || opts.signal?.aborted) throw e;
      // The server refused the subscription (e.g. unknown run): no point retrying.
      if (Array.isArray(e)) throw new ClientError(e.map((x: { message?: string }) => x.message ?? String(x)).join('; '));
      // A dropped connection (server restart, network blip): resume from the cursor.
      failures++;
      if (failures > 30) throw new ClientError(`lost the connection to ${opts.url} and could not get it back: ${describe(e)}`);
      await sleep(Math.min(5000, 200 * failures));
    } finally {
      await client.dispose();
    }
  }
}

function describe(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && 'reason' in e) return String((e as { reason: unknown }).reason || (e as { code?: unknown }).code);
  return String(e);
}

/** The exit code a follower should end with: the run's, or 1 when it stopped without one. */
export async function finalExitCode(url: string, runId: string): Promise<number> {
  const s = await runStatus(url, runId);
  if (s.status !== 'STOPPED') return 1;
  return typeof s.exit_code === 'number' ? Math.min(255, Math.max(0, s.exit_code)) : 1;
}

/** The whole stored log (not following). */
export async function printLogs(url: string, runId: string, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${url}/api/v6/${encodeURIComponent(runId)}/logs?raw_text=true`, { headers: authHeader() });
  } catch (err) {
    throw new ClientError(`cannot reach Flotilla at ${url} (${(err as Error).message}); set FLOTILLA_URL`);
  }
  if (!res.ok) throw new ClientError(`logs of ${runId}: ${res.status} ${((await res.json().catch(() => ({}))) as { error?: string }).error ?? ''}`);
  for await (const part of res.body as unknown as AsyncIterable<Uint8Array>) out.write(part);
}
