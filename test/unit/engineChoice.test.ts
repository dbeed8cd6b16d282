// Which engines a process runs (resolveEngines): `flotilla dev` uses docker when a daemon
// answers and local otherwise; FLOTILLA_ENGINE / FLOTILLA_ENGINES decide when set. The
// cases with a daemon need one: eval "$(scripts/ci/dockerd.sh start)" → TEST_DOCKER_HOST.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, type Role } from '../../src/config.js';
import { resolveEngines } from '../../src/engines/registry.js';

const HOST = process.env.TEST_DOCKER_HOST || undefined;
const START = 'eval "$(scripts/ci/dockerd.sh start)"';
const BIN = fileURLToPath(new URL('../../bin/flotilla.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'flotilla-engine-choice-'));
// A socket path in a directory that exists, but with nothing listening.
const NO_DAEMON = `unix://${join(scratch, 'docker.sock')}`;

if (!HOST) {
  if (process.env.CI) {
    throw new Error(`TEST_DOCKER_HOST is not set, but CI is: the engine choice with a Docker daemon must be tested in CI. Start it first: ${START}`);
  }
  console.warn(`engineChoice: the cases with a Docker daemon are skipped — TEST_DOCKER_HOST is not set. To run them: ${START}`);
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const choose = (env: Record<string, string>, role: Role = 'dev') => resolveEngines(loadConfig(env, role));

/** Starts `flotilla dev`, returns its "ready" log line, and stops it. */
async function devStartupLine(env: Record<string, string>): Promise<string> {
  const dataDir = mkdtempSync(join(scratch, 'dev-'));
  const child = spawn(process.execPath, [BIN, 'dev'], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', LOG_LEVEL: 'info', PORT: '0', FLOTILLA_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`flotilla dev not ready after 60 s:\n${out}`)), 60_000);
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        const line = out.split('\n').find((l) => l.includes('flotilla dev ready'));
        if (line) {
          clearTimeout(timer);
          resolve(line);
        }
      });
      child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`flotilla dev exited before it was ready:\n${out}`));
      });
    });
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

describe('engine choice', () => {
  it('dev runs jobs on local when DOCKER_HOST points at a socket nobody listens on', async () => {
    expect(await choose({ DOCKER_HOST: NO_DAEMON })).toEqual({ enabled: ['local'], defaultName: 'local' });
    expect(await choose({ DOCKER_HOST: `unix://${join(scratch, 'missing-dir', 'docker.sock')}` })).toEqual({ enabled: ['local'], defaultName: 'local' });
  });

  it('FLOTILLA_ENGINE=docker in dev keeps local next to it, without asking the daemon', async () => {
    expect(await choose({ FLOTILLA_ENGINE: 'docker', DOCKER_HOST: NO_DAEMON })).toEqual({ enabled: ['docker', 'local'], defaultName: 'docker' });
  });

  it('FLOTILLA_ENGINES wins over the probe and lists exactly what runs', async () => {
    expect(await choose({ FLOTILLA_ENGINES: 'docker', DOCKER_HOST: NO_DAEMON })).toEqual({ enabled: ['docker'], defaultName: 'docker' });
    expect(await choose({ FLOTILLA_ENGINES: 'local,docker', FLOTILLA_ENGINE: 'docker' })).toEqual({ enabled: ['local', 'docker'], defaultName: 'docker' });
    // A default outside the list is added to it rather than refused.
    expect(await choose({ FLOTILLA_ENGINES: 'local', FLOTILLA_ENGINE: 'docker' })).toEqual({ enabled: ['local', 'docker'], defaultName: 'docker' });
  });

  describe.skipIf(!HOST)('with a Docker daemon answering', () => {
    it('dev runs jobs on docker, with local next to it', async () => {
      expect(await choose({ DOCKER_HOST: HOST! })).toEqual({ enabled: ['docker', 'local'], defaultName: 'docker' });
    });

    it('FLOTILLA_ENGINE=local overrides the daemon', async () => {
      expect(await choose({ DOCKER_HOST: HOST!, FLOTILLA_ENGINE: 'local' })).toEqual({ enabled: ['local'], defaultName: 'local' });
    });

    it('FLOTILLA_ENGINES wins over the daemon', async () => {
      expect(await choose({ DOCKER_HOST: HOST!, FLOTILLA_ENGINES: 'local' })).toEqual({ enabled: ['local'], defaultName: 'local' });
    });

    it('only dev asks the daemon: serve and worker default to local', async () => {
      expect(await choose({ DOCKER_HOST: HOST! }, 'serve')).toEqual({ enabled: ['local'], defaultName: 'local' });
      expect(await choose({ DOCKER_HOST: HOST! }, 'worker')).toEqual({ enabled: ['local'], defaultName: 'local' });
    });

    it('`flotilla dev` says at start-up that runs go to the docker engine', async () => {
      const line = await devStartupLine({ DOCKER_HOST: HOST! });
      expect(line).toContain('runs go to the docker engine');
      expect(JSON.parse(line)).toMatchObject({ engines: ['docker', 'local'], defaultEngine: 'docker' });
    }, 90_000);
  });

  it('`flotilla dev` says at start-up that runs go to the local engine when no daemon answers', async () => {
    const line = await devStartupLine({ DOCKER_HOST: NO_DAEMON });
    expect(line).toContain('runs go to the local engine');
    expect(JSON.parse(line)).toMatchObject({ engines: ['local'], defaultEngine: 'local' });
  }, 90_000);
});
