// The engine contract (docs/engines.md). Engines receive their config in the constructor,
// never read process.env, and import nothing from the rest of Flotilla but this file, io.ts and
// errors.ts. Every call is safe to repeat.

export type RunStatus = 'QUEUED' | 'PENDING' | 'RUNNING' | 'STOPPED' | 'NEEDS_RETRY';

export interface EnvVar {
  name: string;
  value: string;
}

/** What an engine is given about a run: the snapshot taken at execute time plus engine facts. */
export interface EngineRun {
  runId: string;
  definitionId: string;
  definitionVersion: number;
  alias: string;
  groupName: string;
  image: string;
  /** Shell command; null = the image's default command. */
  command: string | null;
  /** Effective env: definition env, then request env, then reserved vars (later wins). */
  env: EnvVar[];
  /** CPU units (1024 = 1 vCPU) and MB, already resolved and clamped. */
  cpu: number;
  memory: number;
  cpuLimit: number;
  memoryLimit: number;
  gpu: number | null;
  ephemeralStorage: number | null;
  clusterName: string;
  owner: string;
  labels: Record<string, string>;
  nodeLifecycle: string;
  activeDeadlineSeconds: number | null;
  arch: string | null;
  serviceAccount: string | null;
  status: RunStatus;
  attempt: number;
  /** Set after submit: Job name / task ARN / container id / pid. */
  engineRef: string | null;
  podName: string | null;
  namespace: string | null;
  queuedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface Instance {
  instanceId?: string;
  dnsName?: string;
}

/** One entry for the run's timeline (`/api/v6/{run_id}/events`, GraphQL Run.events). */
export interface EngineEvent {
  at: Date;
  /** e.g. Normal / Warning */
  eventType: string;
  /** e.g. Pulled, Scheduled, OOMKilled */
  reason: string;
  message: string;
  sourceObject?: string;
}

export interface SubmitResult {
  engineRef: string;
  /** What the backend says right after submit (usually PENDING). */
  status: Extract<RunStatus, 'PENDING' | 'RUNNING' | 'STOPPED' | 'NEEDS_RETRY'>;
  podName?: string;
  namespace?: string;
  instance?: Instance;
  startedAt?: Date;
  exitCode?: number | null;
  exitReason?: string | null;
  finishedAt?: Date;
  events?: EngineEvent[];
}

export interface StatusUpdate {
  runId: string;
  status: Extract<RunStatus, 'PENDING' | 'RUNNING' | 'STOPPED' | 'NEEDS_RETRY'>;
  exitCode?: number | null;
  exitReason?: string | null;
  startedAt?: Date;
  finishedAt?: Date;
  instance?: Instance;
  podName?: string;
  engineRef?: string;
  /** Resources the backend actually granted, when it says. */
  granted?: { cpu?: number; memory?: number };
  /** Peak use the backend measured (MB; cpu units, 1024 = one core), when it can. */
  usage?: { maxMemoryMb?: number; maxCpu?: number };
  events?: EngineEvent[];
  /** Only `events` count: the backend object is gone and the status says nothing about the run now. */
  eventsOnly?: boolean;
}

/** reconcile() answers this for a run whose backend object cannot be found. */
export interface MissingRun {
  runId: string;
  missing: true;
}

export interface LogChunk {
  stream: 'stdout' | 'stderr';
  /** Whole lines, each ending in "\n" (the last line of the output may have none: it is stored as written). */
  text: string;
  /** When the last line of the chunk was written (engine timestamp when known). */
  at: Date;
  /**
   * Opaque resume position after this chunk. The collector stores it with the chunk in one
   * transaction and passes it back to logs() after a restart, so nothing repeats or is lost.
   */
  cursor: string;
}

export interface EngineDescription {
  clusters: string[];
  capabilities: string[];
}

export interface Engine {
  readonly name: 'local' | 'docker' | 'kubernetes' | 'ecs';
  /**
   * Starts the run on the backend. Idempotent on runId: if it already exists there, returns
   * what is there. Throws RetryableEngineError or PermanentEngineError.
   */
  submit(run: EngineRun): Promise<SubmitResult>;
  /** Current status of active runs, in batches (the pull safety net). */
  reconcile(runs: EngineRun[]): Promise<(StatusUpdate | MissingRun)[]>;
  /** Optional push of updates; returns a function that stops watching. */
  watch?(onUpdate: (update: StatusUpdate) => void): () => Promise<void>;
  /**
   * Follows the run's output from `cursor` (null = the beginning) until the output ends,
   * i.e. the run has finished and everything it wrote has been yielded.
   * `signal` aborts following (worker shutdown).
   */
  logs(run: EngineRun, cursor: string | null, signal: AbortSignal): AsyncIterable<LogChunk>;
  /** Stops the run; a run that is already gone is fine. */
  terminate(run: EngineRun, reason: string): Promise<void>;
  /** Frees backend resources once the run is STOPPED and its logs are collected (optional). */
  release?(run: EngineRun): Promise<void>;
  describe(): Promise<EngineDescription>;
  /** Closes connections, stops watches; running work is left alone. */
  close(): Promise<void>;
}
