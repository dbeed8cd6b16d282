// A protocol-level fake Kubernetes API server on plain node:http: batch/v1 Jobs (create, get,
// list, delete), pods and events (list, watch), pod logs (follow, timestamps, sinceTime), with
// label and field selectors, resourceVersions and 410 Gone like the real one. Counts requests
// per route and injects faults. See README.md for the script convention.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKubelet, type Kubelet } from './kubelet.js';
import { createStore, parseFieldSelector, parseLabelSelector, type Kind, type KubeObject, type Store } from './store.js';

export type Route =
  | 'createJob'
  | 'listJobs'
  | 'watchJobs'
  | 'readJob'
  | 'deleteJob'
  | 'listPods'
  | 'watchPods'
  | 'readPod'
  | 'deletePod'
  | 'podLog'
  | 'listEvents'
  | 'watchEvents'
  | 'other';

export interface Fault {
  status: number;
  reason?: string;
  message?: string;
  /** How many requests on the route get this answer. Default 1. */
  times?: number;
}

export interface FakeKubeOptions {
  namespace?: string;
  stepMs?: number;
  sleepScale?: number;
  nodeName?: string;
}

export interface FakeKube {
  url: string;
  /** A kubeconfig (context `fake`) pointing at this server over plain http. */
  kubeconfigPath: string;
  namespace: string;
  store: Store;
  kubelet: Kubelet;
  counts(): Record<string, number>;
  resetCounts(): void;
  /** The query string of every request on a route since the last resetCounts(), oldest first. */
  queries(route: Route): URLSearchParams[];
  /** Watch connections open right now, by route. */
  openWatches(): Record<string, number>;
  /** The next `times` requests on `route` are answered with this error. */
  failNext(route: Route, fault: Fault): void;
  /** Ends every open watch stream, as a restarting API server or a load balancer does. */
  dropWatches(): void;
  /** Sends an ERROR 410 event on every open watch and ends it (the resourceVersion expired). */
  expireWatches(): void;
  /** The next `times` pod log streams are cut after `afterLines` lines. */
  cutLogStreams(afterLines: number, times?: number): void;
  job(name: string): KubeObject | undefined;
  podsOf(jobName: string): KubeObject[];
  close(): Promise<void>;
}

interface OpenWatch {
  route: Route;
  res: ServerResponse;
  end(): void;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const statusBody = (code: number, reason: string, message: string, details?: Record<string, unknown>) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  reason,
  code,
  ...(details ? { details } : {}),
});

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'AlreadyExists',
  410: 'Expired',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
};

/** Timestamps compare as strings once the fraction has 9 digits. */
const normTs = (ts: string) => {
  const m = /^(.{19})(?:\.(\d+))?Z$/.exec(ts);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z` : ts;
};

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

export function writeKubeconfig(path: string, clusters: { name: string; server: string }[], current: string): void {
  const lines = ['apiVersion: v1', 'kind: Config', 'clusters:'];
  for (const c of clusters) lines.push(`- name: ${c.name}`, '  cluster:', `    server: ${c.server}`, '    insecure-skip-tls-verify: true');
  lines.push('users:', '- name: fake-user', '  user:', '    token: fake-token', 'contexts:');
  for (const c of clusters) lines.push(`- name: ${c.name}`, '  context:', `    cluster: ${c.name}`, '    user: fake-user');
  lines.push(`current-context: ${current}`, '');
  writeFileSync(path, lines.join('\n'));
}

export async function startFakeKube(opts: FakeKubeOptions = {}): Promise<FakeKube> {
  const namespace = opts.namespace ?? 'flotilla';
  const store = createStore();
  const kubelet = createKubelet({ store, stepMs: opts.stepMs ?? 20, nodeName: opts.nodeName ?? 'ip-10-0-0-1.ec2.internal', sleepScale: opts.sleepScale ?? 1 });
  const counts = new Map<string, number>();
  const queryLog: { route: Route; query: URLSearchParams }[] = [];
  const faults = new Map<Route, Fault[]>();
  const watches = new Set<OpenWatch>();
  const cuts: number[] = [];
  const logStreams = new Set<ServerResponse>();

  function serveWatch(route: Route, kind: Kind, ns: string, url: URL, res: ServerResponse): void {
    const labels = parseLabelSelector(url.searchParams.get('labelSelector'));
    const fields = parseFieldSelector(url.searchParams.get('fieldSelector'));
    const match = (o: KubeObject) => o.metadata.namespace === ns && labels(o) && fields(o);
    // Headers go out at once: client-node's watch() waits for them before it returns.
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const send = (type: string, object: unknown) => res.write(JSON.stringify({ type, object }) + '\n');
    const rv = url.searchParams.get('resourceVersion');
    if (!rv || rv === '0') {
      for (const o of store.list(kind, ns, match)) send('ADDED', o);
    } else {
      const changes = store.changesSince(Number(rv));
      if (!changes) {
        send('ERROR', statusBody(410, 'Expired', `too old resource version: ${rv} (${store.resourceVersion()})`));
        res.end();
        return;
      }
      for (const c of changes) if (c.kind === kind && match(c.object)) send(c.type, c.object);
    }
    const unsubscribe = store.subscribe((c) => {
      if (c.kind === kind && match(c.object)) send(c.type, c.object);
    });
    const entry: OpenWatch = {
      route,
      res,
      end() {
        unsubscribe();
        watches.delete(entry);
        if (!res.writableEnded) res.end();
      },
    };
    watches.add(entry);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => entry.end(), timeout * 1000) : undefined;
    res.on('close', () => {
      if (timer) clearTimeout(timer);
      entry.end();
    });
  }

  function serveLog(ns: string, podName: string, url: URL, res: ServerResponse): void {
    const pod = store.get('Pod', ns, podName);
    if (!pod) return json(res, 404, statusBody(404, 'NotFound', `pods "${podName}" not found`, { name: podName, kind: 'pods' }));
    const container = url.searchParams.get('container') ?? 'main';
    const statuses =
      (pod.status as { containerStatuses?: { name: string; state?: Record<string, { reason?: string }> }[] } | undefined)?.containerStatuses ?? [];
    const status = statuses.find((c) => c.name === container);
    if (!status?.state || 'waiting' in status.state) {
      const why = status?.state?.waiting?.reason ?? 'ContainerCreating';
      return json(res, 400, statusBody(400, 'BadRequest', `container "${container}" in pod "${podName}" is waiting to start: ${why}`));
    }
    const log = kubelet.log(ns, podName);
    const follow = url.searchParams.get('follow') === 'true';
    const timestamps = url.searchParams.get('timestamps') === 'true';
    const since = url.searchParams.get('sinceTime');
    const sinceNorm = since ? normTs(since) : '';
    let cutAfter = cuts.length ? cuts.shift()! : Infinity;
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    logStreams.add(res);
    let sent = 0;
    let cutting = false;
    const flush = () => {
      if (!log || cutting || res.destroyed || res.writableEnded) return;
      let out = '';
      for (; sent < log.lines.length; sent++) {
        const line = log.lines[sent]!;
        if (sinceNorm && normTs(line.ts) < sinceNorm) continue;
        if (cutAfter-- <= 0) {
          // Cut a moment after the last line, so the client has read what was sent.
          res.write(out);
          cutting = true;
          setTimeout(() => res.destroy(), 50);
          return;
        }
        out += (timestamps ? `${line.ts} ` : '') + line.text + '\n';
      }
      if (out) res.write(out);
      if (!follow || log.ended) res.end();
    };
    flush();
    if (cutting) return;
    if (!follow || !log || log.ended) {
      if (!res.writableEnded && !res.destroyed) res.end();
      return;
    }
    log.listeners.add(flush);
    res.on('close', () => {
      log.listeners.delete(flush);
      logStreams.delete(res);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const isWatch = url.searchParams.get('watch') === 'true' || url.pathname.includes('/watch/');
    const path = url.pathname.replace('/watch/', '/');
    let m: RegExpExecArray | null;
    let route: Route = 'other';
    let ns = '';
    let name = '';
    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs$/.exec(path))) {
      ns = m[1]!;
      route = method === 'POST' ? 'createJob' : isWatch ? 'watchJobs' : 'listJobs';
    } else if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs\/([^/]+)$/.exec(path))) {
      [ns, name] = [m[1]!, m[2]!];
      route = method === 'DELETE' ? 'deleteJob' : 'readJob';
    } else if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(path))) {
      ns = m[1]!;
      route = isWatch ? 'watchPods' : 'listPods';
    } else if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(path))) {
      [ns, name] = [m[1]!, m[2]!];
      route = 'podLog';
    } else if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path))) {
      [ns, name] = [m[1]!, m[2]!];
      route = method === 'DELETE' ? 'deletePod' : 'readPod';
    } else if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(path))) {
      ns = m[1]!;
      route = isWatch ? 'watchEvents' : 'listEvents';
    }
    ns = decodeURIComponent(ns);
    name = decodeURIComponent(name);
    counts.set(route, (counts.get(route) ?? 0) + 1);
    if (queryLog.length < 100_000) queryLog.push({ route, query: url.searchParams });

    const queued = faults.get(route);
    const fault = queued?.[0];
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) queued!.shift();
      const reason = fault.reason ?? REASONS[fault.status] ?? 'Unknown';
      return json(res, fault.status, statusBody(fault.status, reason, fault.message ?? `fake: injected ${fault.status} ${reason}`));
    }

    switch (route) {
      case 'createJob': {
        const job = JSON.parse(await readBody(req)) as KubeObject;
        const jobName = job.metadata?.name ?? '';
        const problems: string[] = [];
        if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(jobName) || jobName.length > 63)
          problems.push(`metadata.name: Invalid value: "${jobName}": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'`);
        const containers = (job.spec as { template?: { spec?: { containers?: { image?: string }[] } } })?.template?.spec?.containers ?? [];
        containers.forEach((c, i) => {
          if (!c.image) problems.push(`spec.template.spec.containers[${i}].image: Required value`);
        });
        if (problems.length)
          return json(
            res,
            422,
            statusBody(422, 'Invalid', `Job.batch "${jobName}" is invalid: ${problems.join(', ')}`, { name: jobName, group: 'batch', kind: 'Job' }),
          );
        if (store.get('Job', ns, jobName))
          return json(res, 409, statusBody(409, 'AlreadyExists', `jobs.batch "${jobName}" already exists`, { name: jobName, group: 'batch', kind: 'jobs' }));
        job.metadata.namespace = ns;
        job.status = {};
        return json(res, 201, store.create('Job', job));
      }
      case 'readJob':
      case 'readPod': {
        const o = store.get(route === 'readJob' ? 'Job' : 'Pod', ns, name);
        return o ? json(res, 200, o) : json(res, 404, statusBody(404, 'NotFound', `${route === 'readJob' ? 'jobs.batch' : 'pods'} "${name}" not found`));
      }
      case 'deleteJob':
      case 'deletePod': {
        const kind: Kind = route === 'deleteJob' ? 'Job' : 'Pod';
        const removed = store.remove(kind, ns, name);
        if (!removed) return json(res, 404, statusBody(404, 'NotFound', `${kind === 'Job' ? 'jobs.batch' : 'pods'} "${name}" not found`));
        return json(res, 200, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Success',
          details: { name, kind: kind === 'Job' ? 'jobs' : 'pods', uid: removed.metadata.uid },
        });
      }
      case 'listJobs':
      case 'listPods':
      case 'listEvents': {
        const kind: Kind = route === 'listJobs' ? 'Job' : route === 'listPods' ? 'Pod' : 'Event';
        const labels = parseLabelSelector(url.searchParams.get('labelSelector'));
        const fields = parseFieldSelector(url.searchParams.get('fieldSelector'));
        const items = store.list(kind, ns, (o) => labels(o) && fields(o));
        return json(res, 200, {
          kind: `${kind}List`,
          apiVersion: kind === 'Job' ? 'batch/v1' : 'v1',
          metadata: { resourceVersion: store.resourceVersion() },
          items,
        });
      }
      case 'watchJobs':
        return serveWatch(route, 'Job', ns, url, res);
      case 'watchPods':
        return serveWatch(route, 'Pod', ns, url, res);
      case 'watchEvents':
        return serveWatch(route, 'Event', ns, url, res);
      case 'podLog':
        return serveLog(ns, name, url, res);
      default:
        return json(res, 404, statusBody(404, 'NotFound', `the fake API server does not serve ${method} ${url.pathname}`));
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, statusBody(500, 'InternalError', String(err)));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = mkdtempSync(join(tmpdir(), 'fake-kube-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeKubeconfig(kubeconfigPath, [{ name: 'fake', server: url }], 'fake');

  return {
    url,
    kubeconfigPath,
    namespace,
    store,
    kubelet,
    counts: () => Object.fromEntries(counts),
    resetCounts() {
      counts.clear();
      queryLog.length = 0;
    },
    queries: (route) => queryLog.filter((q) => q.route === route).map((q) => q.query),
    openWatches() {
      const out: Record<string, number> = {};
      for (const w of watches) out[w.route] = (out[w.route] ?? 0) + 1;
      return out;
    },
    failNext(route, fault) {
      faults.set(route, [...(faults.get(route) ?? []), { ...fault }]);
    },
    dropWatches() {
      for (const w of [...watches]) w.end();
    },
    expireWatches() {
      for (const w of [...watches]) {
        w.res.write(JSON.stringify({ type: 'ERROR', object: statusBody(410, 'Expired', 'too old resource version') }) + '\n');
        w.end();
      }
    },
    cutLogStreams(afterLines, times = 1) {
      for (let i = 0; i < times; i++) cuts.push(afterLines);
    },
    job: (name) => store.get('Job', namespace, name),
    podsOf: (jobName) => store.list('Pod', namespace, (p) => p.metadata.labels?.['job-name'] === jobName),
    async close() {
      kubelet.close();
      for (const w of [...watches]) w.end();
      for (const r of logStreams) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
