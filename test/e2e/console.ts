// Shared by the browser tests: a real `flotilla dev` on the embedded database in a temp
// folder, Debian's Chromium driven by playwright-core, the console built once, and a
// screenshot folder the test prints.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
export const SKIP_REASON = `browser tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`;

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin/flotilla.js');
export const SCREENSHOT_DIR = join(ROOT, 'test-results/screenshots');

/**
 * Builds the console unless dist/web is there (CI builds it in `npm ci` through prepare).
 * Test files run in parallel: one builds (holding a lock directory), the others wait for it.
 */
export function ensureConsoleBuilt(): void {
  const index = join(ROOT, 'dist/web/index.html');
  if (existsSync(index)) return;
  const lock = join(tmpdir(), `flotilla-build-web-${createHash('sha256').update(ROOT).digest('hex').slice(0, 12)}.lock`);
  try {
    mkdirSync(lock);
  } catch {
    const deadline = Date.now() + 300_000;
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    while (!existsSync(index) && existsSync(lock) && Date.now() < deadline) Atomics.wait(sleeper, 0, 0, 500);
    if (existsSync(index)) return;
    throw new Error(`another test is building the console and did not finish (lock ${lock}); remove the lock or run npm run build:web`);
  }
  try {
    const r = spawnSync('npm', ['run', 'build:web'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_ENV: 'production' } });
    if (r.status !== 0) throw new Error(`npm run build:web failed:\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface DevServer {
  url: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `flotilla dev` on `port` (0: a free one) with its data in `dataDir`; resolves when ready. */
export async function startDev(dataDir: string, port = 0, timeoutMs = 90_000, env: Record<string, string> = {}): Promise<DevServer> {
  const child = spawn(process.execPath, [BIN, 'dev'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      USER: 'e2e',
      LOG_LEVEL: 'info',
      PORT: String(port),
      HOST: '127.0.0.1',
      FLOTILLA_DATA_DIR: dataDir,
      FLOTILLA_ENGINES: 'local',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`flotilla dev not ready after ${timeoutMs} ms:\n${out}`)), timeoutMs);
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /"url":"(http:[^"]+)"[^\n]*flotilla dev ready/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`flotilla dev exited before it was ready:\n${out}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    dataDir,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export function tempDataDir(name: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `flotilla-e2e-${name}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-dev-shm-usage'],
  });
}

/** A console test's world: `flotilla dev` on a fresh data dir and one Chromium page on it. */
export interface ConsoleSession {
  dataDir: string;
  /** The server the page talks to; a test that restarts it puts the new one here, so close() stops it. */
  server: DevServer;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Closes the browser, stops the server and removes the data dir. */
  close(): Promise<void>;
}

/**
 * Builds the console if needed, starts `flotilla dev` (with `env`) on a fresh data dir named
 * after `name`, and opens a 1280×900 page. `beforeStart` runs on the data dir first (the
 * embedded database takes one process at a time). A failure part-way closes what was opened.
 */
export async function openConsole(
  name: string,
  opts: { env?: Record<string, string>; timeoutMs?: number; permissions?: string[]; beforeStart?: (dataDir: string) => void } = {},
): Promise<ConsoleSession> {
  ensureConsoleBuilt();
  const data = tempDataDir(name);
  let server: DevServer | undefined;
  let browser: Browser | undefined;
  const close = async () => {
    await browser?.close();
    await server?.stop();
    data.remove();
  };
  try {
    opts.beforeStart?.(data.dir);
    server = await startDev(data.dir, 0, 90_000, opts.env ?? {});
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    if (opts.permissions) await context.grantPermissions(opts.permissions, { origin: server.url });
    const page = await context.newPage();
    page.setDefaultTimeout(opts.timeoutMs ?? 30_000);
    const session: ConsoleSession = {
      dataDir: data.dir,
      server,
      browser,
      context,
      page,
      close: async () => {
        server = session.server;
        await close();
      },
    };
    return session;
  } catch (err) {
    await close();
    throw err;
  }
}

let printed = false;
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  if (!printed) {
    printed = true;
    console.log(`screenshots: ${SCREENSHOT_DIR}`);
  }
  const file = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Runs a GraphQL operation against the server (test setup only; the console is what is tested). */
export async function gql<T = Record<string, unknown>>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors?.length) throw new Error(body.errors.map((e) => e.message).join('; '));
  return body.data as T;
}

/** Defines a task with `command` under `alias` and executes it as owner e2e (test setup only). */
export async function defineAndRun(url: string, alias: string, command: string): Promise<string> {
  const created = await gql<{ createTaskDefinition: { taskDefinition: { definitionId: string } } }>(
    url,
    `mutation($i: CreateTaskDefinitionInput!) { createTaskDefinition(input: $i) { ... on CreateTaskDefinitionSuccess { taskDefinition { definitionId } } } }`,
    { i: { alias, image: 'alpine', command } },
  );
  const executed = await gql<{ executeTask: { run: { runId: string } } }>(
    url,
    `mutation($id: ID!) { executeTask(definitionId: $id, input: {owner: "e2e"}) { ... on ExecuteTaskSuccess { run { runId } } } }`,
    { id: created.createTaskDefinition.taskDefinition.definitionId },
  );
  return executed.executeTask.run.runId;
}
