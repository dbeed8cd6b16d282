// One Kubernetes cluster as the engine talks to it: a kubeconfig context, the typed clients,
// a watch, a raw log stream, all behind one token bucket.
import http from 'node:http';
import https from 'node:https';
import {
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  Observable,
  Watch,
  type ConfigurationOptions,
  type ObservableMiddleware,
  type CoreV1Event,
  type RequestContext,
  type ResponseContext,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';
import { isNotFound } from './apiErrors.js';
import { RUN_ID_LABEL } from './jobManifest.js';
import { createTokenBucket, type TokenBucket } from './rateLimit.js';

export interface ClusterClientOptions {
  name: string;
  /** Kubeconfig file; undefined = the pod's in-cluster service account. */
  kubeconfigPath?: string;
  context?: string;
  namespace: string;
  qps: number;
  burst: number;
  requestTimeoutMs: number;
}

export interface Listed<T> {
  items: T[];
  resourceVersion: string;
}

/** An error carrying the HTTP status, shaped like client-node's so apiErrors reads both. */
export class KubeHttpError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
  ) {
    super(`Kubernetes API answered HTTP ${code}`);
  }
}

export interface ClusterClient {
  readonly name: string;
  readonly namespace: string;
  readonly limiter: TokenBucket;
  createJob(job: V1Job, namespace: string): Promise<V1Job>;
  /** undefined when there is no such Job. */
  readJob(name: string, namespace: string): Promise<V1Job | undefined>;
  /** Background propagation: the Job goes now, its pods right after. A missing Job is fine. */
  deleteJob(name: string, namespace: string): Promise<void>;
  listJobs(namespace: string, labelSelector?: string): Promise<Listed<V1Job>>;
  listPods(namespace: string, labelSelector?: string): Promise<Listed<V1Pod>>;
  readPod(name: string, namespace: string): Promise<V1Pod | undefined>;
  listPodEvents(namespace: string): Promise<Listed<CoreV1Event>>;
  /** Opens a watch; `done` is called once when it ends for any reason. */
  watch(
    path: string,
    params: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, obj: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController>;
  /** GET on the API server, answered as a stream (pod logs). Non-2xx → KubeHttpError. */
  stream(path: string, query: URLSearchParams, signal: AbortSignal): Promise<http.IncomingMessage>;
}

export function loadKubeConfig(path: string | undefined, context: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromCluster();
  if (context) {
    const known = kc.getContexts().map((c) => c.name);
    if (!known.includes(context)) {
      throw new Error(
        `kubeconfig ${path ?? '(in-cluster)'} has no context "${context}" (it has: ${known.join(', ') || 'none'}); fix the cluster's context setting`,
      );
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${path ?? '(in-cluster)'} names no current cluster; set current-context or a context per cluster`);
  return kc;
}

/** Per-call options that give a request a deadline (client-node sets none). */
function timeoutOptions(ms: number): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(AbortSignal.timeout(ms));
      return new Observable(Promise.resolve(ctx));
    },
    post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}

export function createClusterClient(opts: ClusterClientOptions): ClusterClient {
  const kc = loadKubeConfig(opts.kubeconfigPath, opts.context);
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const watcher = new Watch(kc);
  const limiter = createTokenBucket({ qps: opts.qps, burst: opts.burst });
  const server = kc.getCurrentCluster()!.server.replace(/\/+$/, '');
  const timed = () => timeoutOptions(opts.requestTimeoutMs);
  const selector = (s?: string) => s ?? RUN_ID_LABEL;

  return {
    name: opts.name,
    namespace: opts.namespace,
    limiter,
    async createJob(job, namespace) {
      await limiter.take();
      return batch.createNamespacedJob({ namespace, body: job }, timed());
    },
    async readJob(name, namespace) {
      await limiter.take();
      try {
        return await batch.readNamespacedJob({ name, namespace }, timed());
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async deleteJob(name, namespace) {
      await limiter.take();
      try {
        await batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' }, timed());
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    async listJobs(namespace, labelSelector) {
      await limiter.take();
      const list = await batch.listNamespacedJob({ namespace, labelSelector: selector(labelSelector) }, timed());
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    async listPods(namespace, labelSelector) {
      await limiter.take();
      const list = await core.listNamespacedPod({ namespace, labelSelector: selector(labelSelector) }, timed());
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    async readPod(name, namespace) {
      await limiter.take();
      try {
        return await core.readNamespacedPod({ name, namespace }, timed());
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async listPodEvents(namespace) {
      await limiter.take();
      const list = await core.listNamespacedEvent({ namespace, fieldSelector: 'involvedObject.kind=Pod' }, timed());
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    async watch(path, params, onEvent, done) {
      await limiter.take();
      return watcher.watch(path, params, (type, obj) => onEvent(type, obj), done);
    },
    async stream(path, query, signal) {
      await limiter.take(signal);
      const url = new URL(`${server}${path}?${query.toString()}`);
      const options: https.RequestOptions = { method: 'GET', headers: {} };
      await kc.applyToHTTPSOptions(options);
      const request = url.protocol === 'https:' ? https.request : http.request;
      return new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = request(url, { ...options, signal }, (res) => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(res);
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => reject(new KubeHttpError(status, body)));
          res.on('error', reject);
        });
        req.setTimeout(opts.requestTimeoutMs, () => req.destroy(new Error(`no answer from ${url.host} within ${opts.requestTimeoutMs} ms`)));
        req.on('error', reject);
        req.end();
      }).then((res) => {
        // Once answered, a followed log may be quiet for as long as the command is.
        res.socket?.setTimeout(0);
        return res;
      });
    },
  };
}
