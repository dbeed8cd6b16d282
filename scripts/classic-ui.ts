// Drives the classic Flotilla web UI (stitchfix/flotilla-os `ui/`, built unmodified) against a
// fresh `flotilla dev`, in Chromium, as a new user would: create, list, edit, copy, run (with
// the form's defaults, and on ECS through the cluster picker), watch, stop and delete a task;
// list, open and run a template. Prints one PASS/FAIL line per step and exits non-zero on a
// failure. It cannot run in CI (the classic source must be downloaded and built); see
// docs/classic-ui.md for building it.
//
//   npx tsx scripts/classic-ui.ts --build /path/to/flotilla-os/ui/build [--port 5170]
//
// The build must have been made with REACT_APP_BASE_URL=/api: this script serves it on
// --port and proxies /api to Flotilla on --port + 1 (same origin, as the classic deployment).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium, type Page } from 'playwright-core';

const { values: args } = parseArgs({
  options: {
    build: { type: 'string' },
    port: { type: 'string', default: '5170' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    shots: { type: 'string', default: join(tmpdir(), 'flotilla-classic-ui-shots') },
    headed: { type: 'boolean', default: false },
  },
});
if (!args.build || !existsSync(join(args.build, 'index.html'))) {
  console.error('usage: npx tsx scripts/classic-ui.ts --build <flotilla-os/ui/build> [--port 5170]  (see docs/classic-ui.md)');
  process.exit(2);
}
const BUILD = resolve(args.build);
const UI_PORT = Number(args.port);
const API_PORT = UI_PORT + 1;
const UI = `http://127.0.0.1:${UI_PORT}`;
const API = `http://127.0.0.1:${API_PORT}`;
const BIN = fileURLToPath(new URL('../bin/flotilla.js', import.meta.url));
mkdirSync(args.shots!, { recursive: true });

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.png': 'image/png',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.eot': 'application/vnd.ms-fontobject',
};

/** The classic deployment: the UI's files, and /api passed through to Flotilla, on one origin. */
function startProxy() {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const url = new URL(req.url ?? '/', UI);
      if (url.pathname.startsWith('/api/') || url.pathname === '/graphql') {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const headers = new Headers();
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers.set(k, v);
        const upstream = await fetch(API + url.pathname + url.search, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
        res.writeHead(
          upstream.status,
          Object.fromEntries([...upstream.headers].filter(([k]) => !['content-encoding', 'content-length', 'transfer-encoding'].includes(k))),
        );
        res.end(Buffer.from(await upstream.arrayBuffer()));
        return;
      }
      let file = join(BUILD, decodeURIComponent(url.pathname));
      if (!file.startsWith(BUILD) || !existsSync(file) || statSync(file).isDirectory()) file = join(BUILD, 'index.html');
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
    })().catch((err: unknown) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  return new Promise<typeof server>((ok) => server.listen(UI_PORT, '127.0.0.1', () => ok(server)));
}

async function startFlotilla(dataDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'dev'], {
    env: { ...process.env, PORT: String(API_PORT), FLOTILLA_DATA_DIR: dataDir, LOG_LEVEL: 'warn', DATABASE_URL: '', REDIS_URL: '' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  for (const until = Date.now() + 90_000; Date.now() < until;) {
    if (child.exitCode !== null) throw new Error(`flotilla dev exited with ${child.exitCode}`);
    const ok = await fetch(`${API}/api/v6/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error('flotilla dev did not answer within 90 s');
}

async function api<T = any>(path: string, init: { method?: string; json?: unknown } = {}): Promise<T> {
  const res = await fetch(API + path, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json' },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  return (await res.json()) as T;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const results: { step: string; ok: boolean; detail: string }[] = [];
const pageErrors: string[] = [];

async function step(page: Page, name: string, fn: () => Promise<string | void>): Promise<void> {
  const errorsBefore = pageErrors.length;
  try {
    const detail = (await fn()) ?? '';
    const crashed = pageErrors.slice(errorsBefore);
    if (crashed.length) throw new Error(`the page threw: ${crashed.join(' | ')}`);
    results.push({ step: name, ok: true, detail });
    console.log(`PASS  ${name}${detail ? ` — ${detail}` : ''}`);
  } catch (err) {
    const shot = join(args.shots!, `${results.length + 1}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
    results.push({ step: name, ok: false, detail: (err as Error).message });
    console.log(`FAIL  ${name} — ${(err as Error).message.split('\n')[0]} (screenshot ${shot})`);
  }
}

const runIdOf = (page: Page) => new URL(page.url()).pathname.split('/runs/')[1]!;

/** Types into a react-select (creatable) inside the form group labelled `label`, then Enter. */
async function selectCreatable(page: Page, label: string, value: string) {
  const group = page.locator('.bp3-form-group', { hasText: label }).first();
  const input = group.locator('input').first();
  await input.click();
  await input.fill(value);
  await page.keyboard.press('Enter');
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'flotilla-classic-ui-'));
  const proxy = await startProxy();
  let flotilla: ChildProcess | undefined;
  const browser = await chromium.launch({
    executablePath: args.chromium,
    headless: !args.headed,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  try {
    flotilla = await startFlotilla(dataDir);
    const page = await browser.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.setDefaultTimeout(20_000);
    const alias = `classic-${Date.now().toString(36)}`;
    let definitionId = '';
    let copyId = '';

    await step(page, 'create a task', async () => {
      await page.goto(`${UI}/tasks/create`);
      await page.locator('input[name=alias]').fill(alias);
      await selectCreatable(page, 'Group Name', 'classic');
      await page.locator('input[name=image]').fill('alpine:3');
      await page.locator('[name=command]').fill('echo "hello from the classic UI"; sleep 2; echo done');
      await page.locator('input[name=memory]').fill('256');
      await page.locator('#submitButton').click();
      await page.waitForURL((u) => /\/tasks\/[^/]+$/.test(u.pathname) && !u.pathname.endsWith('/create'));
      definitionId = decodeURIComponent(new URL(page.url()).pathname.split('/tasks/')[1]!);
      const def = await api(`/api/v6/task/${definitionId}`);
      if (def.alias !== alias) throw new Error(`created ${JSON.stringify(def)}`);
      return definitionId;
    });

    await step(page, 'list tasks and filter by alias', async () => {
      await page.goto(`${UI}/tasks?alias=${alias}`);
      await page.getByText(alias, { exact: true }).first().waitFor();
    });

    await step(page, 'edit the task', async () => {
      await page.goto(`${UI}/tasks/${definitionId}/update`);
      await page.locator('input[name=image]').fill('alpine:3.20');
      await page.locator('#submitButton').click();
      await until('the new image', async () => (await api(`/api/v6/task/${definitionId}`)).image === 'alpine:3.20');
    });

    await step(page, 'copy the task', async () => {
      await page.goto(`${UI}/tasks/${definitionId}/copy`);
      await page.locator('input[name=alias]').fill(`${alias}-copy`);
      await page.locator('#submitButton').click();
      await page.waitForURL((u) => /\/tasks\/[^/]+$/.test(u.pathname) && !u.pathname.endsWith(definitionId));
      copyId = decodeURIComponent(new URL(page.url()).pathname.split('/tasks/')[1]!);
      return copyId;
    });

    let runId = '';
    await step(page, 'run the task with the form defaults (EKS)', async () => {
      await page.goto(`${UI}/tasks/${definitionId}/execute`);
      await page.locator('button[type=submit]').click();
      await page.waitForURL((u) => /^\/runs\/[^/]+$/.test(u.pathname));
      runId = runIdOf(page);
      const run = await api(`/api/v6/history/${runId}`);
      return `${runId}: engine ${run.engine}, asked for ${run.engine_requested ?? '(none)'}, cluster "${run.cluster}"`;
    });

    await step(page, 'watch the run: SUCCESS and its logs', async () => {
      await until('STOPPED', async () => (await api(`/api/v6/history/${runId}`)).status === 'STOPPED');
      await page.reload();
      await page.getByText('hello from the classic UI').first().waitFor({ timeout: 30_000 });
      await page.getByText('SUCCESS').first().waitFor();
    });

    await step(page, 'the ECS cluster picker lists clusters and runs on one', async () => {
      await page.goto(`${UI}/tasks/${definitionId}/execute`);
      await page.getByText('ECS', { exact: true }).click();
      const group = page.locator('.bp3-form-group', { hasText: 'Cluster' }).first();
      // The picker loads GET /api/v6/clusters when it appears: open its menu until the names are in.
      const options = await until(
        'cluster options',
        async () => {
          await group.locator('input').first().click();
          const texts = (await page.locator('[class*="option"]').allTextContents()).filter((x) => x && x !== 'No options');
          if (!texts.length) await page.keyboard.press('Escape');
          return texts.length > 0 && texts;
        },
        15_000,
      );
      await page.locator('[class*="option"]').first().click();
      await page.locator('button[type=submit]').click();
      await page.waitForURL((u) => /^\/runs\/[^/]+$/.test(u.pathname));
      const run = await api(`/api/v6/history/${runIdOf(page)}`);
      return `options [${options.join(', ')}]; run on ${run.engine} (asked ${run.engine_requested}), cluster ${run.cluster}`;
    });

    let sleepRun = '';
    await step(page, 'run a long task; the runs list shows it among the active runs', async () => {
      // Created as the UI's own create form would (it always sends cpu and memory).
      const def = await api('/api/v6/task', {
        method: 'POST',
        json: { alias: `${alias}-sleep`, group_name: 'classic', image: 'alpine:3', command: 'sleep 300', cpu: 512, memory: 256 },
      });
      await page.goto(`${UI}/tasks/${def.definition_id}/execute`);
      await page.locator('button[type=submit]').click();
      await page.waitForURL((u) => /^\/runs\/[^/]+$/.test(u.pathname));
      sleepRun = runIdOf(page);
      await until('RUNNING', async () => (await api(`/api/v6/history/${sleepRun}`)).status === 'RUNNING');
      await page.goto(`${UI}/runs`);
      await page.getByText(`${alias}-sleep`).first().waitFor();
    });

    await step(page, 'stop the running run', async () => {
      await page.goto(`${UI}/runs/${sleepRun}`);
      await page.getByRole('button', { name: 'Stop' }).click();
      await page.locator('#flotillaStopRunSubmitButton').click();
      const run = await until('STOPPED', async () => {
        const r = await api(`/api/v6/history/${sleepRun}`);
        return r.status === 'STOPPED' && r;
      });
      if (run.exit_reason !== 'Task terminated by user') throw new Error(`exit_reason ${run.exit_reason}`);
      await page.reload();
      await page.getByText('FAILED').first().waitFor();
    });

    let templateId = '';
    await step(page, 'templates: list and open', async () => {
      const created = await api('/api/v7/template', {
        method: 'POST',
        json: {
          template_name: `${alias}-tpl`,
          // The classic payload editor starts from the schema's own defaults (docs/classic-ui.md).
          schema: { type: 'object', properties: { greeting: { type: 'string', title: 'Greeting', default: 'hello' } }, required: ['greeting'] },
          command_template: 'echo "{{.greeting}} from a template"',
          defaults: { greeting: 'hello' },
          image: 'alpine:3',
        },
      });
      templateId = created.template.template_id;
      await page.goto(`${UI}/templates`);
      await page.getByText(`${alias}-tpl`).first().click();
      await page.waitForURL((u) => u.pathname === `/templates/${templateId}`);
    });

    await step(page, 'templates: run one with its payload form', async () => {
      await page.goto(`${UI}/templates/${templateId}/execute`);
      await page.locator('button[type=submit]').click();
      await page.waitForURL((u) => /^\/runs\/[^/]+$/.test(u.pathname));
      const id = runIdOf(page);
      const run = await until('STOPPED', async () => {
        const r = await api(`/api/v6/history/${id}`);
        return r.status === 'STOPPED' && r;
      });
      if (run.exit_code !== 0) throw new Error(`exit ${run.exit_code} ${run.exit_reason}`);
      if (run.command !== 'echo "hello from a template"') throw new Error(`rendered ${run.command}`);
      return `command: ${run.command}`;
    });

    await step(page, 'templates: history by name', async () => {
      await page.goto(`${UI}/templates/${templateId}`);
      await page.getByText('SUCCESS').first().waitFor();
    });

    await step(page, 'delete a task', async () => {
      await page.goto(`${UI}/tasks/${copyId}`);
      await page.getByRole('button', { name: 'Delete' }).click();
      await page.locator('#flotillaDeleteTaskSubmitButton').click();
      await until('the copy deleted', async () => (await fetch(`${API}/api/v6/task/${copyId}`)).status === 404);
    });
  } finally {
    await browser.close();
    proxy.close();
    if (flotilla && flotilla.exitCode === null) {
      flotilla.kill('SIGTERM');
      await new Promise((r) => flotilla!.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  const failed = results.filter((r) => !r.ok);
  console.log(`\n${results.length - failed.length}/${results.length} steps passed`);
  process.exitCode = failed.length ? 1 : 0;
}

await main();
