// The console's budget: the JavaScript a first visit loads (the entry script and what it
// preloads, as index.html names them) stays under 300 KB gzipped.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ensureConsoleBuilt } from '../e2e/console.js';

const WEB = fileURLToPath(new URL('../../dist/web', import.meta.url));
const BUDGET = 300 * 1024;

describe('console bundle', () => {
  it('loads at most 300 KB of gzipped JavaScript initially', () => {
    ensureConsoleBuilt();
    const html = readFileSync(join(WEB, 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script[^>]+src="([^"]+\.js)"/g), ...html.matchAll(/<link[^>]+rel="modulepreload"[^>]+href="([^"]+\.js)"/g)].map(
      (m) => m[1] ?? '',
    );
    expect(scripts.length).toBeGreaterThan(0);
    let gzipped = 0;
    for (const src of scripts) {
      const js = readFileSync(join(WEB, src.replace(/^\//, '')));
      // React's development build (a build under NODE_ENV=test) is bigger and slower.
      expect(js.includes('jsxDEV'), `${src} is a development build`).toBe(false);
      gzipped += gzipSync(js).length;
    }
    console.log(`initial JS: ${scripts.length} file(s), ${(gzipped / 1024).toFixed(1)} KB gzipped (budget ${BUDGET / 1024} KB)`);
    expect(gzipped).toBeLessThanOrEqual(BUDGET);
  }, 120_000);

  it('lists every operation it sends in persisted-operations.json under its sha256', async () => {
    ensureConsoleBuilt();
    const ops = JSON.parse(readFileSync(join(WEB, 'persisted-operations.json'), 'utf8')) as Record<string, string>;
    const { createHash } = await import('node:crypto');
    const texts = Object.values(ops);
    expect(texts.length).toBeGreaterThan(10);
    for (const [hash, text] of Object.entries(ops)) expect(createHash('sha256').update(text).digest('hex')).toBe(hash);
    for (const name of [
      'query Tasks',
      'query Run(',
      'subscription RunLogs',
      'subscription RunStatus',
      'subscription RunFeed',
      'mutation ExecuteTask',
      'mutation StopRun',
    ]) {
      expect(texts.some((t) => t.includes(name))).toBe(true);
    }
  });
});
