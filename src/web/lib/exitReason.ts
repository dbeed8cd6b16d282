// A stopped run's outcome in plain words, e.g. "Out of memory (137)".

const BY_CODE: Record<number, string> = {
  0: 'Succeeded',
  1: 'Failed',
  2: 'Misused shell command',
  124: 'Timed out',
  125: 'Container failed to start',
  126: 'Command not executable',
  127: 'Command not found',
  130: 'Interrupted',
  137: 'Out of memory or killed',
  139: 'Crashed (segmentation fault)',
  143: 'Terminated',
};

export function describeExit(exitCode: number | null | undefined, exitReason: string | null | undefined): string {
  const reason = exitReason?.trim();
  if (exitCode === null || exitCode === undefined) return reason || 'No exit code';
  const oom = reason !== undefined && /oom|out of memory/i.test(reason);
  const words = oom ? 'Out of memory' : (BY_CODE[exitCode] ?? (exitCode > 128 ? `Killed by signal ${exitCode - 128}` : 'Failed'));
  const base = `${words} (${exitCode})`;
  // The server's reason adds what the code does not say (who stopped it, the engine message).
  return reason && !sameWords(reason, words) ? `${base}: ${reason}` : base;
}

function sameWords(a: string, b: string): boolean {
  return a.toLowerCase().replace(/[^a-z]/g, '') === b.toLowerCase().replace(/[^a-z]/g, '');
}

export type Outcome = 'success' | 'failure' | 'active' | 'waiting';

export function outcomeOf(status: string, exitCode: number | null | undefined): Outcome {
  if (status === 'STOPPED') return exitCode === 0 ? 'success' : 'failure';
  if (status === 'RUNNING' || status === 'PENDING') return 'active';
  return 'waiting';
}
