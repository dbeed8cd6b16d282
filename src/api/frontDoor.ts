// What every request passes before any route, in every auth mode: the Host allow-list (DNS
// rebinding), the Origin check on requests that can change something (a web page on another
// origin must not run commands here), CORS for listed origins only, and the body size limit.
// Requests without an Origin header (curl, scripts, CLIs) pass the Origin check unchanged.
import type { Context, MiddlewareHandler } from 'hono';
import type { SecurityConfig } from '../config.js';
import { json } from './rest/http.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const CORS_METHODS = 'GET, POST, PUT, DELETE, OPTIONS';
const CORS_HEADERS = 'Content-Type, Authorization';
/** Probes come from orchestrators that address the pod by IP; they read nothing private. */
const HOST_EXEMPT = /^\/(health(\/live|\/ready)?|metrics)$/;

/** `host[:port]` → the host alone, lower case; IPv6 keeps its brackets. */
export function hostName(hostHeader: string): string {
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

export function hostAllowed(config: SecurityConfig, hostHeader: string | null | undefined): boolean {
  if (config.allowedHosts.includes('*')) return true;
  if (!hostHeader) return false;
  const full = hostHeader.trim().toLowerCase();
  return config.allowedHosts.includes(full) || config.allowedHosts.includes(hostName(full));
}

/** Same origin as the request (the host it was addressed to), or listed in FLOTILLA_CORS_ORIGINS. */
export function originAllowed(config: SecurityConfig, origin: string, hostHeader: string | null | undefined): boolean {
  const o = origin.trim().replace(/\/+$/, '');
  if (config.corsOrigins.includes(o)) return true;
  try {
    const url = new URL(o);
    return hostHeader !== null && hostHeader !== undefined && url.host === hostHeader.trim().toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, file://) and junk
  }
}

export function hostRefusal(hostHeader: string | null | undefined): Response {
  return json(
    {
      error: `Host ${JSON.stringify(hostHeader ?? '')} is not served here: add it to FLOTILLA_ALLOWED_HOSTS (comma list) if clients reach Flotilla under that name`,
    },
    421,
  );
}

export function originRefusal(origin: string): Response {
  return json(
    {
      error: `requests from origin ${JSON.stringify(origin)} are refused: add it to FLOTILLA_CORS_ORIGINS (comma list) to let pages on that origin call this API`,
    },
    403,
  );
}

/** Served over node:http (node-server hands the incoming message over as the fetch env), not an in-process fetch. */
const isNodeRequest = (c: Context) => (c.env as { incoming?: unknown } | undefined)?.incoming !== undefined;

export function frontDoor(config: SecurityConfig): MiddlewareHandler[] {
  const host: MiddlewareHandler = async (c, next) => {
    if (HOST_EXEMPT.test(c.req.path) && SAFE_METHODS.has(c.req.method)) return next();
    const h = c.req.header('host') ?? new URL(c.req.url).host;
    if (!hostAllowed(config, h)) return hostRefusal(h);
    return next();
  };

  // Our own CORS rather than hono/cors: that one answers every preflight with the allowed
  // methods and headers whatever the origin; here an unlisted origin gets no allow header at all.
  const cors: MiddlewareHandler = async (c, next) => {
    const origin = c.req.header('origin');
    const listed = origin !== undefined && config.corsOrigins.includes(origin.replace(/\/+$/, ''));
    if (c.req.method === 'OPTIONS' && origin !== undefined && c.req.header('access-control-request-method')) {
      const headers: Record<string, string> = { vary: 'Origin' };
      if (listed) {
        headers['access-control-allow-origin'] = origin;
        headers['access-control-allow-methods'] = CORS_METHODS;
        headers['access-control-allow-headers'] = CORS_HEADERS;
        headers['access-control-max-age'] = '600';
      }
      return new Response(null, { status: 204, headers });
    }
    await next();
    if (listed) {
      c.res.headers.set('access-control-allow-origin', origin);
      c.res.headers.append('vary', 'Origin');
    }
  };

  const originCheck: MiddlewareHandler = async (c, next) => {
    const origin = c.req.header('origin');
    if (origin === undefined || SAFE_METHODS.has(c.req.method)) return next();
    if (!originAllowed(config, origin, c.req.header('host') ?? new URL(c.req.url).host)) return originRefusal(origin);
    return next();
  };

  // hono/body-limit rebuilds a streamed (chunked) request from the original, which fails on
  // node-server's request object (a 500); this one rebuilds it from its parts.
  const tooLarge = () => json({ error: `request body is larger than ${config.maxBodyBytes} bytes (FLOTILLA_MAX_BODY): send less, or raise the limit` }, 413);
  const limit: MiddlewareHandler = async (c, next) => {
    const raw = c.req.raw;
    const length = raw.headers.get('content-length');
    const chunked = raw.headers.has('transfer-encoding');
    // Asking a node-server request for `body` builds a whole web Request and stream around
    // it (more CPU than many a route), so a request served over node:http is judged by its
    // headers: HTTP/1.1 gives a body only with one of these two, never to GET or HEAD. Its
    // body is then read straight from the socket by the route.
    if (isNodeRequest(c) && !chunked) {
      if (length === null || c.req.method === 'GET' || c.req.method === 'HEAD') return next();
      return Number(length) > config.maxBodyBytes ? tooLarge() : next();
    }
    if (!raw.body) return next();
    if (length !== null && !chunked) return Number(length) > config.maxBodyBytes ? tooLarge() : next();
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = raw.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > config.maxBodyBytes) {
        void reader.cancel();
        return tooLarge();
      }
      chunks.push(value);
    }
    const headers = new Headers(raw.headers);
    headers.delete('transfer-encoding');
    headers.set('content-length', String(size));
    c.req.raw = new Request(raw.url, { method: raw.method, headers, body: Buffer.concat(chunks), signal: raw.signal });
    return next();
  };

  return [host, cors, originCheck, limit];
}
