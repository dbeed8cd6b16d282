// One schema over the environment, read once per entry point and passed down.
// Nothing else in src/ reads process.env.
import { z } from 'zod';

export const ENGINE_NAMES = ['local', 'docker', 'kubernetes', 'ecs'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];
export const WORKER_NAMES = ['submit', 'status', 'retry', 'logs', 'sweep'] as const;
export type WorkerName = (typeof WORKER_NAMES)[number];

/** `eks` is the classic name of the Kubernetes engine; requests and config may use it. */
export function canonicalEngine(name: string): EngineName | undefined {
  const n = name.trim().toLowerCase();
  if (n === 'eks' || n === 'k8s') return 'kubernetes';
  return (ENGINE_NAMES as readonly string[]).includes(n) ? (n as EngineName) : undefined;
}

const durationMs = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$/.exec(value);
      if (!m) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration: use milliseconds (500) or a unit (500ms, 2s, 1m)` });
        return z.NEVER;
      }
      const n = Number(m[1]);
      return Math.round(m[2] === 's' ? n * 1000 : m[2] === 'm' ? n * 60_000 : n);
    });

const int = (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .default(String(fallback))
    .transform((value, ctx) => {
      const n = Number(value);
      if (!/^\s*-?\d+\s*$/.test(value) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `"${value}" must be an integer between ${min} and ${max}` });
        return z.NEVER;
      }
      return n;
    });

const bool = (fallback: boolean) =>
  z
    .string()
    .default(String(fallback))
    .transform((value, ctx) => {
      const v = value.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: `"${value}" must be true or false` });
      return z.NEVER;
    });

const optional = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const csv = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );

const url = (protocols: string[]) =>
  optional.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => p + '//').join(' or ')}` },
  );

const engineList = (fallback: string) =>
  csv(fallback).transform((names, ctx) => {
    const out: EngineName[] = [];
    for (const name of names) {
      const engine = canonicalEngine(name);
      if (!engine) {
        ctx.addIssue({ code: 'custom', message: `unknown engine "${name}": use ${ENGINE_NAMES.join(', ')}` });
        return z.NEVER;
      }
      if (!out.includes(engine)) out.push(engine);
    }
    return out;
  });

/**
 * `eks:local,ecs:local`: a request for an engine that is not enabled runs on the named
 * substitute instead (the run records both). Unset means the role's default.
 */
const substitutes = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined) return undefined;
    const out: Partial<Record<EngineName, EngineName>> = {};
    for (const pair of value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const [from, to, extra] = pair.split(':').map((s) => s.trim());
      const a = canonicalEngine(from ?? '');
      const b = canonicalEngine(to ?? '');
      if (!a || !b || extra !== undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `"${pair}" must be requested:substitute, both engines (${ENGINE_NAMES.join(', ')} or eks), e.g. eks:local,ecs:local`,
        });
        return z.NEVER;
      }
      if (a !== b) out[a] = b;
    }
    return out;
  });

const envSchema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']),
  REDIS_URL: url(['redis:', 'rediss:']),
  PORT: int(5000, 0, 65535),
  HOST: optional,
  FLOTILLA_MODE: z.enum(['dev', 'prod', 'test']).optional(),
  FLOTILLA_DATA_DIR: z.string().default('./.flotilla'),
  FLOTILLA_ENGINE: optional.refine((v) => v === undefined || canonicalEngine(v) !== undefined, {
    message: `must be one of ${ENGINE_NAMES.join(', ')} (or eks)`,
  }),
  FLOTILLA_ENGINES: engineList(''),
  FLOTILLA_ENGINE_SUBSTITUTES: substitutes,
  FLOTILLA_ALLOW_REMOTE_LOCAL_ENGINE: bool(false),
  OWNER_ID_VAR: z
    .string()
    .default('FLOTILLA_RUN_OWNER_ID')
    .refine((v) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(v), { message: 'must be a valid environment variable name' }),
  // Browser origins allowed to call the API from another origin (never `*`). CORS_ORIGINS is
  // the classic name; its old default `*` is ignored.
  FLOTILLA_CORS_ORIGINS: optional,
  CORS_ORIGINS: optional,
  FLOTILLA_ALLOWED_HOSTS: optional,
  FLOTILLA_MAX_BODY: optional.transform((v, ctx) => {
    if (v === undefined) return 1024 * 1024;
    const m = /^(\d+)\s*(b|kb|k|mb|m)?$/i.exec(v);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: 'must be a size in bytes (1048576) or with a unit (512kb, 1mb)' });
      return z.NEVER;
    }
    const unit = (m[2] ?? 'b').toLowerCase();
    return Number(m[1]) * (unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 * 1024 : 1);
  }),
  FLOTILLA_AUTH: z.enum(['none', 'token', 'oidc', 'proxy']).optional(),
  FLOTILLA_TRUSTED_PROXIES: csv(''),
  FLOTILLA_PROXY_EMAIL_HEADERS: csv('x-forwarded-email,x-auth-request-email'),
  FLOTILLA_PROXY_GROUPS_HEADERS: csv('x-forwarded-groups,x-auth-request-groups'),
  FLOTILLA_OIDC_ISSUER: url(['http:', 'https:']),
  FLOTILLA_OIDC_AUDIENCE: optional,
  FLOTILLA_OIDC_JWKS_URL: url(['http:', 'https:']),
  FLOTILLA_OIDC_CLIENT_ID: optional,
  FLOTILLA_OIDC_OWNER_CLAIM: z.string().default('email'),
  FLOTILLA_OIDC_GROUPS_CLAIM: z.string().default('groups'),
  FLOTILLA_OIDC_CLOCK_SKEW: durationMs('30s'),
  // Group → role mapping for oidc and proxy: who is admin, who is user; anyone else known is a viewer.
  FLOTILLA_ADMIN_GROUPS: csv(''),
  FLOTILLA_USER_GROUPS: csv(''),
  FLOTILLA_DEFAULT_ROLE: z.enum(['viewer', 'user', 'admin']).default('viewer'),
  FLOTILLA_MAX_SUBSCRIPTIONS_PER_CONNECTION: int(100, 1, 100_000),
  FLOTILLA_MAX_CONNECTIONS_PER_CLIENT: int(50, 1, 100_000),
  FLOTILLA_GRAPHQL_PERSISTED: z.enum(['off', 'allow', 'only']).default('off'),
  FLOTILLA_GRAPHQL_PERSISTED_FILE: optional,
  ENABLED_WORKERS: csv(WORKER_NAMES.join(',')).refine((names) => names.every((n) => (WORKER_NAMES as readonly string[]).includes(n)), {
    message: `must be a comma-separated list of ${WORKER_NAMES.join(', ')}`,
  }),
  WORKER_SUBMIT_INTERVAL: durationMs('1s'),
  WORKER_STATUS_INTERVAL: durationMs('5s'),
  WORKER_RETRY_INTERVAL: durationMs('2s'),
  WORKER_SWEEP_INTERVAL: durationMs('30s'),
  WORKER_LEASE: durationMs('60s'),
  WORKER_CONCURRENCY: int(32, 1, 10_000),
  MAX_ATTEMPTS: int(3, 1, 100),
  WORKER_METRICS_PORT: optional
    .refine((v) => v === undefined || (/^\d+$/.test(v) && Number(v) <= 65535), { message: 'must be a port number (0-65535); unset = no listener' })
    .transform((v) => (v === undefined ? undefined : Number(v))),
  LOG_RETENTION_DAYS: int(90, 0, 36_500),
  LOG_COMPLETE_WAIT: durationMs('10s'),
  /** The longest a SIGTERM/SIGINT shutdown may take before the process exits anyway. */
  FLOTILLA_SHUTDOWN_TIMEOUT: durationMs('10s'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // local engine
  FLOTILLA_LOCAL_WORKDIR: optional,
  FLOTILLA_LOCAL_GRACE: durationMs('5s'),
  // docker engine
  DOCKER_HOST: optional,
  // kubernetes engine
  KUBECONFIG: optional,
  FLOTILLA_K8S_NAMESPACE: z.string().default('flotilla'),
  FLOTILLA_K8S_SERVICE_ACCOUNT: optional,
  FLOTILLA_K8S_TTL_SECONDS: int(3600, 0, 31_536_000),
  FLOTILLA_K8S_QPS: int(20, 1, 10_000),
  FLOTILLA_K8S_BURST: int(30, 1, 10_000),
  FLOTILLA_K8S_START_FAILURE_GRACE: durationMs('60s'),
  // ecs engine
  AWS_REGION: optional,
  AWS_ENDPOINT_URL: url(['http:', 'https:']),
  FLOTILLA_ECS_CLUSTER: z.string().default('default'),
  FLOTILLA_ECS_LAUNCH_TYPE: z.enum(['EC2', 'FARGATE']).default('EC2'),
  FLOTILLA_ECS_SUBNETS: csv(''),
  FLOTILLA_ECS_SECURITY_GROUPS: csv(''),
  FLOTILLA_ECS_LOG_GROUP: z.string().default('flotilla'),
  FLOTILLA_ECS_EVENTS_QUEUE: optional,
  FLOTILLA_ECS_TASK_ROLE_ARN: optional,
  FLOTILLA_ECS_EXECUTION_ROLE_ARN: optional,
});

const DEV_SUBSTITUTES: Partial<Record<EngineName, EngineName>> = { kubernetes: 'local', ecs: 'local' };

export type Role = 'dev' | 'serve' | 'worker' | 'migrate' | 'test';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: Record<string, string | undefined> = process.env, role: Role = 'serve') {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? '?');
      const given = env[name];
      return `  ${name}${given === undefined ? '' : `=${JSON.stringify(given)}`}: ${i.message}`;
    });
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}\nFix these variables (see README "Configuration") and start again.`);
  }
  const e = parsed.data;
  const embedded = e.DATABASE_URL === undefined;
  const mode = e.FLOTILLA_MODE ?? (role === 'dev' ? 'dev' : role === 'test' ? 'test' : 'prod');
  // The embedded default runs commands on the host; it listens on loopback unless told otherwise.
  const host = e.HOST ?? (role === 'dev' ? '127.0.0.1' : '0.0.0.0');
  const enabledEngines = e.FLOTILLA_ENGINES.length > 0 ? e.FLOTILLA_ENGINES : undefined;
  return {
    role,
    mode,
    embedded,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    dataDir: e.FLOTILLA_DATA_DIR,
    port: e.PORT,
    host,
    defaultEngine: e.FLOTILLA_ENGINE ? canonicalEngine(e.FLOTILLA_ENGINE) : undefined,
    /** undefined = decided at start-up (dev picks docker when a daemon answers, else local). */
    enabledEngines,
    allowRemoteLocalEngine: e.FLOTILLA_ALLOW_REMOTE_LOCAL_ENGINE,
    /**
     * Requested engine → the engine that runs it when the requested one is not enabled. On by
     * default only for `dev` (the classic UI asks for eks/ecs); `serve` substitutes only what
     * the operator lists.
     */
    engineSubstitutes: e.FLOTILLA_ENGINE_SUBSTITUTES ?? (role === 'dev' ? DEV_SUBSTITUTES : {}),
    ownerIdVar: e.OWNER_ID_VAR,
    security: securityConfig(e, host, role),
    /** GraphQL persisted operations (src/api/graphql/persisted.ts): off, allow (also), only (allow-list). */
    graphqlPersisted: { mode: e.FLOTILLA_GRAPHQL_PERSISTED, extraFile: e.FLOTILLA_GRAPHQL_PERSISTED_FILE },
    workers: {
      enabled: e.ENABLED_WORKERS as WorkerName[],
      submitIntervalMs: e.WORKER_SUBMIT_INTERVAL,
      statusIntervalMs: e.WORKER_STATUS_INTERVAL,
      retryIntervalMs: e.WORKER_RETRY_INTERVAL,
      sweepIntervalMs: e.WORKER_SWEEP_INTERVAL,
      leaseMs: e.WORKER_LEASE,
      concurrency: e.WORKER_CONCURRENCY,
      maxAttempts: e.MAX_ATTEMPTS,
      /** `flotilla worker` serves /metrics and /health/* here; undefined = no listener. */
      metricsPort: e.WORKER_METRICS_PORT,
    },
    logRetentionDays: e.LOG_RETENTION_DAYS,
    /** How long a log read of a STOPPED run waits for the collector to store the rest. */
    logCompleteWaitMs: e.LOG_COMPLETE_WAIT,
    shutdownTimeoutMs: e.FLOTILLA_SHUTDOWN_TIMEOUT,
    logLevel: e.LOG_LEVEL,
    local: { workdir: e.FLOTILLA_LOCAL_WORKDIR, graceMs: e.FLOTILLA_LOCAL_GRACE },
    docker: { host: e.DOCKER_HOST },
    kubernetes: {
      kubeconfig: e.KUBECONFIG,
      namespace: e.FLOTILLA_K8S_NAMESPACE,
      serviceAccount: e.FLOTILLA_K8S_SERVICE_ACCOUNT,
      ttlSeconds: e.FLOTILLA_K8S_TTL_SECONDS,
      qps: e.FLOTILLA_K8S_QPS,
      burst: e.FLOTILLA_K8S_BURST,
      startFailureGraceMs: e.FLOTILLA_K8S_START_FAILURE_GRACE,
    },
    ecs: {
      region: e.AWS_REGION,
      endpoint: e.AWS_ENDPOINT_URL,
      cluster: e.FLOTILLA_ECS_CLUSTER,
      launchType: e.FLOTILLA_ECS_LAUNCH_TYPE,
      subnets: e.FLOTILLA_ECS_SUBNETS,
      securityGroups: e.FLOTILLA_ECS_SECURITY_GROUPS,
      logGroup: e.FLOTILLA_ECS_LOG_GROUP,
      eventsQueue: e.FLOTILLA_ECS_EVENTS_QUEUE,
      taskRoleArn: e.FLOTILLA_ECS_TASK_ROLE_ARN,
      executionRoleArn: e.FLOTILLA_ECS_EXECUTION_ROLE_ARN,
    },
  };
}

export type Config = ReturnType<typeof loadConfig>;

export const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/;

export type AuthMode = 'none' | 'token' | 'oidc' | 'proxy';

function securityConfig(e: z.infer<typeof envSchema>, host: string, role: Role) {
  const loopback = LOOPBACK_HOST.test(host);
  const originsRaw = e.FLOTILLA_CORS_ORIGINS ?? (e.CORS_ORIGINS === '*' ? undefined : e.CORS_ORIGINS) ?? '';
  const corsOrigins = originsRaw
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  for (const origin of corsOrigins) {
    if (origin === '*' || !/^https?:\/\/[^/]+$/.test(origin)) {
      throw new ConfigError(
        `Invalid configuration:\n  FLOTILLA_CORS_ORIGINS=${JSON.stringify(originsRaw)}: "${origin}" is not an origin; list each one as scheme://host[:port] (\`*\` is not allowed)`,
      );
    }
  }
  const hostsRaw = e.FLOTILLA_ALLOWED_HOSTS;
  const listedHosts = (hostsRaw ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  // Loopback: the loopback names only (stops DNS rebinding). Elsewhere: what the operator
  // lists, `*` for any; unset means any (a warning at start says to list them).
  const allowedHosts = listedHosts.length > 0 ? listedHosts : loopback ? ['localhost', '127.0.0.1', '[::1]'] : ['*'];
  // `dev` and tests default to none; serve on loopback too. Serve elsewhere must decide (checked at start).
  const authExplicit = e.FLOTILLA_AUTH !== undefined;
  const auth: AuthMode = e.FLOTILLA_AUTH ?? 'none';
  if (auth === 'oidc' && (!e.FLOTILLA_OIDC_ISSUER || !e.FLOTILLA_OIDC_AUDIENCE)) {
    throw new ConfigError(
      'Invalid configuration:\n  FLOTILLA_AUTH=oidc needs FLOTILLA_OIDC_ISSUER (the issuer URL) and FLOTILLA_OIDC_AUDIENCE (the audience your tokens carry)',
    );
  }
  if (auth === 'proxy' && e.FLOTILLA_TRUSTED_PROXIES.length === 0) {
    throw new ConfigError('Invalid configuration:\n  FLOTILLA_AUTH=proxy needs FLOTILLA_TRUSTED_PROXIES (CIDRs of the auth proxy, e.g. 10.0.0.0/8)');
  }
  return {
    loopback,
    corsOrigins,
    allowedHosts,
    hostsListed: listedHosts.length > 0,
    maxBodyBytes: e.FLOTILLA_MAX_BODY,
    auth,
    authExplicit,
    role,
    trustedProxies: e.FLOTILLA_TRUSTED_PROXIES,
    proxyEmailHeaders: e.FLOTILLA_PROXY_EMAIL_HEADERS.map((h) => h.toLowerCase()),
    proxyGroupsHeaders: e.FLOTILLA_PROXY_GROUPS_HEADERS.map((h) => h.toLowerCase()),
    oidc: {
      issuer: e.FLOTILLA_OIDC_ISSUER,
      audience: e.FLOTILLA_OIDC_AUDIENCE,
      jwksUrl: e.FLOTILLA_OIDC_JWKS_URL,
      clientId: e.FLOTILLA_OIDC_CLIENT_ID,
      ownerClaim: e.FLOTILLA_OIDC_OWNER_CLAIM,
      groupsClaim: e.FLOTILLA_OIDC_GROUPS_CLAIM,
      clockSkewSeconds: Math.round(e.FLOTILLA_OIDC_CLOCK_SKEW / 1000),
    },
    adminGroups: e.FLOTILLA_ADMIN_GROUPS,
    userGroups: e.FLOTILLA_USER_GROUPS,
    defaultRole: e.FLOTILLA_DEFAULT_ROLE,
    maxSubscriptionsPerConnection: e.FLOTILLA_MAX_SUBSCRIPTIONS_PER_CONNECTION,
    maxConnectionsPerClient: e.FLOTILLA_MAX_CONNECTIONS_PER_CLIENT,
  };
}

export type SecurityConfig = Config['security'];
