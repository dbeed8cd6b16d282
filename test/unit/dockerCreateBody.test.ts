import { describe, expect, it } from 'vitest';
import { SHELL_WRAPPER, buildCreateBody, containerName, imageReference } from '../../src/engines/docker/createBody.js';
import { makeEngineRun } from '../engines/conformance.js';

const run = makeEngineRun('docker', {
  runId: 'docker-0b9a4c1e-7a52-4c35-9c1a-2f0f',
  definitionId: 'etl-1234',
  owner: 'ada@example.com',
  image: 'flotilla-test:latest',
  command: 'echo "hello $WHO"',
  env: [
    { name: 'WHO', value: 'world' },
    { name: 'FLOTILLA_RUN_ID', value: 'docker-0b9a4c1e-7a52-4c35-9c1a-2f0f' },
  ],
  cpu: 512,
  memory: 1024,
  attempt: 2,
  labels: { team: 'data', 'flotilla-run-id': 'spoofed' },
});

describe('docker create body', () => {
  it('pins the whole body for a plain run', () => {
    expect(buildCreateBody(run, { stopGraceSeconds: 10 })).toEqual({
      name: 'flotilla-docker-0b9a4c1e-7a52-4c35-9c1a-2f0f',
      Image: 'flotilla-test:latest',
      Env: ['WHO=world', 'FLOTILLA_RUN_ID=docker-0b9a4c1e-7a52-4c35-9c1a-2f0f'],
      Labels: {
        team: 'data',
        'flotilla-run-id': 'docker-0b9a4c1e-7a52-4c35-9c1a-2f0f',
        'flotilla-definition-id': 'etl-1234',
        owner: 'ada@example.com',
        'flotilla-attempt': '2',
      },
      Tty: false,
      OpenStdin: false,
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      StopTimeout: 10,
      Entrypoint: ['/bin/sh', '-c', SHELL_WRAPPER, 'flotilla-run', 'echo "hello $WHO"'],
      Cmd: [],
      HostConfig: {
        Memory: 1024 * 1024 * 1024,
        MemorySwap: 1024 * 1024 * 1024,
        NanoCpus: 500_000_000,
        RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
        AutoRemove: false,
      },
    });
  });

  it('names the container after the run', () => {
    expect(containerName('abc')).toBe('flotilla-abc');
  });

  it('converts memory MB to bytes and cpu units to nano-cpus', () => {
    const body = buildCreateBody({ ...run, cpu: 256, memory: 512 }, { stopGraceSeconds: 5 });
    expect(body.HostConfig?.Memory).toBe(536_870_912);
    expect(body.HostConfig?.NanoCpus).toBe(250_000_000);
    expect(buildCreateBody({ ...run, cpu: 60_000 }, { stopGraceSeconds: 5 }).HostConfig?.NanoCpus).toBe(58_593_750_000);
  });

  it('leaves the image default command alone when the run has none', () => {
    const body = buildCreateBody({ ...run, command: null }, { stopGraceSeconds: 5 });
    expect(body.Entrypoint).toBeUndefined();
    expect(body.Cmd).toBeUndefined();
  });

  it('sets the network mode only when configured', () => {
    expect(buildCreateBody(run, { stopGraceSeconds: 5, networkMode: 'none' }).HostConfig?.NetworkMode).toBe('none');
    expect(buildCreateBody(run, { stopGraceSeconds: 5 }).HostConfig).not.toHaveProperty('NetworkMode');
  });

  it('requests GPUs from the nvidia driver', () => {
    expect(buildCreateBody({ ...run, gpu: 2 }, { stopGraceSeconds: 5 }).HostConfig?.DeviceRequests).toEqual([
      { Driver: 'nvidia', Count: 2, Capabilities: [['gpu']] },
    ]);
    expect(buildCreateBody({ ...run, gpu: 0 }, { stopGraceSeconds: 5 }).HostConfig).not.toHaveProperty('DeviceRequests');
  });
});

describe('docker image reference', () => {
  it.each([
    ['busybox', { fromImage: 'busybox', tag: 'latest' }],
    ['busybox:1.36', { fromImage: 'busybox', tag: '1.36' }],
    ['localhost:5000/team/app', { fromImage: 'localhost:5000/team/app', tag: 'latest' }],
    ['localhost:5000/team/app:v2', { fromImage: 'localhost:5000/team/app', tag: 'v2' }],
    ['repo/app@sha256:abcd', { fromImage: 'repo/app', tag: 'sha256:abcd' }],
  ])('%s', (image, expected) => {
    expect(imageReference(image)).toEqual(expected);
  });
});
