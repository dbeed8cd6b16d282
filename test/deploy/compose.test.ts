// docker-compose.yml as docker-compose resolves it (`docker-compose config`): the start order
// (healthy Postgres → migrate → serve and worker), the explicit auth decision, the socket
// only in the opt-in `docker` profile, and every Flotilla service's environment a valid
// configuration for its role.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig, type Role } from '../../src/config.js';

const ROOT = join(import.meta.dirname, '../..');
const probe = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
const noCompose = probe.error || probe.status !== 0 ? 'docker-compose is not installed (apt-get install docker-compose)' : '';

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
  volumes?: (string | { source?: string; target?: string })[];
  profiles?: string[];
  user?: string;
}

function config(env: Record<string, string> = {}, ...args: string[]): { services: Record<string, Service>; volumes?: Record<string, unknown> } {
  // Only what compose needs: the test must not depend on FLOTILLA_* in the caller's shell.
  const clean = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env };
  const out = spawnSync('docker-compose', [...args, 'config'], { cwd: ROOT, env: clean, encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`docker-compose config failed: ${out.stderr}`);
  return parse(out.stdout) as { services: Record<string, Service> };
}

/** docker-compose 1.x lists every service in `config`; these are the ones `up` starts. */
const active = (services: Record<string, Service>, profiles: string[] = []) =>
  Object.fromEntries(Object.entries(services).filter(([, s]) => !s.profiles || s.profiles.some((p) => profiles.includes(p))));

const mountsSocket = (s: Service) => (s.volumes ?? []).some((v) => (typeof v === 'string' ? v : `${v.source}:${v.target}`).includes('docker.sock'));

describe.skipIf(noCompose)(`docker-compose.yml${noCompose ? ` (skipped: ${noCompose})` : ''}`, () => {
  const resolved = noCompose ? { services: {} as Record<string, Service> } : config();
  const plain = { ...resolved, services: active(resolved.services) };

  it('starts Postgres and Redis healthy with named volumes, then migrate once, then serve and worker', () => {
    const s = plain.services;
    expect(Object.keys(s).sort()).toEqual(['migrate', 'postgres', 'redis', 'serve', 'worker']);
    expect(s.postgres!.healthcheck?.test).toContain('pg_isready');
    expect(s.redis!.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(Object.keys(plain.volumes ?? {}).sort()).toEqual(['postgres-data', 'redis-data']);
    expect(s.migrate!.command).toEqual(['node', 'bin/flotilla.js', 'migrate']);
    expect(s.migrate!.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    for (const name of ['serve', 'worker']) {
      expect(s[name]!.depends_on, name).toEqual({ migrate: { condition: 'service_completed_successfully' }, redis: { condition: 'service_healthy' } });
      expect(s[name]!.image).toBe(s.migrate!.image);
    }
    expect(s.serve!.command).toEqual(['node', 'bin/flotilla.js', 'serve']);
    expect(s.worker!.command).toEqual(['node', 'bin/flotilla.js', 'worker']);
  });

  it('publishes serve on localhost:5000 only, with the auth decision explicit', () => {
    const serve = plain.services.serve!;
    expect(serve.ports).toEqual(['127.0.0.1:5000:5000/tcp']);
    expect(serve.environment?.FLOTILLA_AUTH).toBe('none');
    expect(serve.healthcheck?.test.join(' ')).toContain('http://127.0.0.1:5000/health/ready');
    const worker = plain.services.worker!;
    expect(worker.healthcheck?.test.join(' ')).toContain(`http://127.0.0.1:${worker.environment?.WORKER_METRICS_PORT}/health/ready`);
  });

  it('mounts no Docker socket unless the docker profile is on, and then only in the relay', () => {
    for (const [name, s] of Object.entries(plain.services)) expect(mountsSocket(s), name).toBe(false);
    const withDocker = config({ FLOTILLA_ENGINES: 'docker' }, '--profile', 'docker');
    const mounting = Object.entries(active(withDocker.services, ['docker']))
      .filter(([, s]) => mountsSocket(s))
      .map(([n]) => n);
    expect(mounting).toEqual(['docker']);
    expect(withDocker.services.docker!.profiles).toEqual(['docker']);
    expect(withDocker.services.docker!.command).toEqual(['node', 'bin/docker-socket-relay.js']);
    expect(withDocker.services.worker!.environment?.DOCKER_HOST).toBe('tcp://docker:2375');
  });

  it.each([
    [{}, ['local']],
    [{ FLOTILLA_ENGINES: 'docker' }, ['docker']],
    [{ FLOTILLA_ENGINES: 'kubernetes' }, ['kubernetes']],
  ] as const)('with %j every service has a valid configuration for its role, engines %j', (env, engines) => {
    const { services } = config(env);
    for (const role of ['migrate', 'serve', 'worker'] as Role[]) {
      const parsed = loadConfig(services[role]!.environment ?? {}, role);
      expect(parsed.embedded, role).toBe(false);
      expect(parsed.enabledEngines, role).toEqual(engines);
    }
  });
});
