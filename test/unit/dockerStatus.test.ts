import { describe, expect, it } from 'vitest';
import { containerStatus, eventFromDocker, failureOutcome, type ContainerFacts } from '../../src/engines/docker/status.js';

const ZERO = '0001-01-01T00:00:00Z';

function facts(state: Partial<ContainerFacts['State']>): ContainerFacts {
  return {
    Id: '7386718702d498bc7a19b2e1',
    Name: '/flotilla-run-1',
    HostConfig: { Memory: 512 * 1024 * 1024, NanoCpus: 250_000_000 },
    State: { Status: 'running', OOMKilled: false, ExitCode: 0, Error: '', StartedAt: ZERO, FinishedAt: ZERO, ...state },
  };
}

describe('docker container status', () => {
  it('created and not started is PENDING, with the engine facts', () => {
    expect(containerStatus('run-1', facts({ Status: 'created' }))).toEqual({
      runId: 'run-1',
      status: 'PENDING',
      engineRef: 'flotilla-run-1',
      podName: 'flotilla-run-1',
      granted: { cpu: 256, memory: 512 },
    });
  });

  it('running is RUNNING since StartedAt', () => {
    const u = containerStatus('run-1', facts({ Status: 'running', StartedAt: '2025-11-29T12:15:05.754920418Z' }));
    expect(u).toMatchObject({ status: 'RUNNING', startedAt: new Date('2025-11-29T12:15:05.754Z') });
  });

  it('exit 0 is STOPPED, Exited successfully', () => {
    const u = containerStatus('run-1', facts({ Status: 'exited', StartedAt: '2025-11-29T12:15:05Z', FinishedAt: '2025-11-29T12:15:06Z' }));
    expect(u).toMatchObject({ status: 'STOPPED', exitCode: 0, exitReason: 'Exited successfully', finishedAt: new Date('2025-11-29T12:15:06Z') });
  });

  it('a non-zero exit is STOPPED with the code and Error', () => {
    expect(containerStatus('run-1', facts({ Status: 'exited', ExitCode: 3, StartedAt: '2025-11-29T12:15:05Z' }))).toMatchObject({
      status: 'STOPPED',
      exitCode: 3,
      exitReason: 'Error',
    });
  });

  it('an OOM kill is STOPPED 137 OOMKilled', () => {
    expect(containerStatus('run-1', facts({ Status: 'exited', ExitCode: 137, OOMKilled: true, StartedAt: '2025-11-29T12:15:05Z' }))).toMatchObject({
      status: 'STOPPED',
      exitCode: 137,
      exitReason: 'OOMKilled',
    });
  });

  it('a start that failed is NEEDS_RETRY with the runtime error', () => {
    const error = 'failed to create shim task: OCI runtime create failed: exec: "/bin/sh": stat /bin/sh: no such file or directory: unknown';
    expect(containerStatus('run-1', facts({ Status: 'created', ExitCode: 127, Error: error }))).toMatchObject({
      status: 'NEEDS_RETRY',
      exitReason: `CannotStartContainerError: ${error}`,
    });
    expect(containerStatus('run-1', facts({ Status: 'exited', ExitCode: 128, Error: error }))).toMatchObject({ status: 'NEEDS_RETRY' });
  });

  it('an unknown state keeps the run going rather than ending it on a guess', () => {
    expect(containerStatus('run-1', facts({ Status: 'hibernating' })).status).toBe('RUNNING');
  });
});

describe('docker failures', () => {
  it('maps every failure kind', () => {
    expect(failureOutcome({ kind: 'pull', message: 'pull access denied' })).toEqual({
      status: 'NEEDS_RETRY',
      exitReason: 'CannotPullContainerError: pull access denied',
    });
    expect(failureOutcome({ kind: 'create', message: 'no space left' })).toEqual({
      status: 'NEEDS_RETRY',
      exitReason: 'CannotCreateContainerError: no space left',
    });
    expect(failureOutcome({ kind: 'start', message: 'exec failed' })).toEqual({ status: 'NEEDS_RETRY', exitReason: 'CannotStartContainerError: exec failed' });
    expect(failureOutcome({ kind: 'invalid', message: 'invalid reference format' })).toEqual({ status: 'PERMANENT', message: 'invalid reference format' });
    expect(failureOutcome({ kind: 'unreachable', message: 'connect ENOENT' })).toEqual({ status: 'RETRYABLE', message: 'connect ENOENT' });
  });

  it('turns daemon events into timeline entries', () => {
    const e = eventFromDocker({ Action: 'oom', timeNano: 1_764_418_505_754_920_400, Actor: { ID: 'abc', Attributes: { name: 'flotilla-run-1' } } });
    expect(e).toEqual({
      at: new Date(1_764_418_505_754),
      eventType: 'Warning',
      reason: 'OOMKilled',
      message: 'The container exceeded its memory limit and was killed',
      sourceObject: 'container/flotilla-run-1',
    });
    expect(eventFromDocker({ Action: 'die', time: 1, Actor: { Attributes: { exitCode: '3' } } })).toMatchObject({
      reason: 'Died',
      message: 'Container exited with code 3',
    });
    expect(eventFromDocker({ Action: 'exec_start', time: 1 })).toBeNull();
  });
});
