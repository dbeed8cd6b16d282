// Requests with exactly the headers a test names (Host and Origin included, which fetch
// would set or refuse), over node:http to a listening server.
import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json(): any;
}

export function rawRequest(
  baseUrl: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer },
): Promise<RawResponse> {
  const url = new URL(opts.path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: opts.method ?? 'GET',
        path: url.pathname + url.search,
        // A body goes with its length unless the test says otherwise (transfer-encoding: chunked).
        headers:
          opts.body !== undefined && !opts.headers?.['transfer-encoding']
            ? { 'content-length': String(Buffer.byteLength(opts.body)), ...opts.headers }
            : (opts.headers ?? {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    // The server may answer (413) and close before a large body is written: not the test's error.
    req.on('socket', (socket) => socket.on('error', () => {}));
    if (opts.body !== undefined) req.write(opts.body);
    req.end();
  });
}
