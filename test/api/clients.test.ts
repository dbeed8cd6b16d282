// The README's client snippets (examples/clients/, included in the README verbatim) run
// against a served Flotilla: graphql-ws, Apollo Client, Python's standard library over SSE,
// and the codegen configuration.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { createDefinition } from '../helpers/factories.js';
import { serveTestApp, type ServedApp } from '../helpers/live.js';

const run = promisify(execFile);
const README = readFileSync('README.md', 'utf8');

let t: TestApp;
let served: ServedApp;
let runId: string;

beforeAll(async () => {
  t = await createTestApp({}, { engines: 'local', workers: true });
  served = await serveTestApp(t);
  const def = await createDefinition(t.services, { command: 'echo out1; echo err1 >&2; echo tail' });
  runId = (await t.services.runs.execute({ definitionId: def.definitionId }, { owner: 'clients' })).runId;
  for (const deadline = Date.now() + 50_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
    const r = await t.services.runs.get(runId);
    if (r.status === 'STOPPED' && r.logsComplete) return;
  }
  throw new Error('the run did not finish');
}, 60_000);
afterAll(async () => {
  await served?.close();
  await t?.close();
});

const env = () => ({ ...process.env, FLOTILLA_URL: served.url });
const tsx = (file: string, ...args: string[]) => run(process.execPath, ['--import', 'tsx', file, ...args], { env: env(), timeout: 60_000 });

function inReadme(file: string): void {
  expect(README.includes(readFileSync(file, 'utf8').trim()), `${file} is in README.md verbatim`).toBe(true);
}

describe('README client snippets', () => {
  it('TypeScript with graphql-ws: follows the output, stdout and stderr apart', async () => {
    inReadme('examples/clients/follow-logs.ts');
    const { stdout, stderr } = await tsx('examples/clients/follow-logs.ts', runId);
    expect([stdout, stderr]).toEqual(['out1\ntail\n', 'err1\n']);
  }, 60_000);

  it('Python with only the standard library, over SSE', async () => {
    inReadme('examples/clients/follow_logs.py');
    const { stdout, stderr } = await run('python3', ['examples/clients/follow_logs.py', runId], { env: env(), timeout: 30_000 });
    expect([stdout, stderr]).toEqual(['out1\ntail\n', 'err1\n']);
  }, 60_000);

  it('Apollo Client: a query over HTTP and a subscription over graphql-ws', async () => {
    inReadme('examples/clients/apollo.ts');
    const { stdout } = await tsx('examples/clients/apollo.ts');
    expect(stdout).toContain(`${runId} STOPPED`);
    expect(stdout.trim().split('\n').at(-1)).toBe('status STOPPED');
  }, 60_000);

  it('codegen configuration: points at the schema and maps its custom scalars', async () => {
    inReadme('examples/clients/codegen.ts');
    const path = '../../examples/clients/codegen.js';
    const config = (
      (await import(/* @vite-ignore */ path)) as { default: { schema: string; generates: Record<string, { config: { scalars: Record<string, string> } }> } }
    ).default;
    const sdl = readFileSync(config.schema, 'utf8');
    const scalars = [...sdl.matchAll(/^scalar (\w+)/gm)].map((m) => m[1]);
    expect(Object.keys(config.generates['src/gql/']!.config.scalars).sort()).toEqual(scalars.sort());
  });
});
