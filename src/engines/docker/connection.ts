// Connecting to the Docker daemon from an explicit host string (DOCKER_HOST's format).
import http from 'node:http';
import https from 'node:https';
import Docker from 'dockerode';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export interface DockerConnection {
  docker: Docker;
  /** What was dialled, for messages. */
  address: string;
  /** Frees pooled sockets (idle keep-alive connections would hold the process open). */
  close(): void;
}

/**
 * docker-modem merges its own reading of DOCKER_HOST / DOCKER_CERT_PATH into whatever it is
 * given. Engines take their config from the constructor only, so every key it would fill
 * from the environment is set here, explicitly, even when undefined.
 */
// pathPrefix and agent are docker-modem options that @types/dockerode does not list.
type ModemOptions = Docker.DockerOptions & { pathPrefix?: string; agent?: http.Agent };

function modemOptions(host: string | undefined, agent: http.Agent): ModemOptions & { address: string } {
  const blank = {
    socketPath: undefined,
    host: undefined,
    port: undefined,
    protocol: undefined,
    ca: undefined,
    cert: undefined,
    key: undefined,
    timeout: undefined,
    pathPrefix: undefined,
    sshOptions: undefined,
    agent,
  };
  const value = host?.trim() || `unix://${DEFAULT_DOCKER_SOCKET}`;
  if (value.startsWith('unix://') || value.startsWith('/')) {
    const socketPath = value.startsWith('/') ? value : value.slice('unix://'.length) || DEFAULT_DOCKER_SOCKET;
    return { ...blank, socketPath, address: `unix://${socketPath}` };
  }
  let url: URL;
  try {
    url = new URL(value.includes('://') ? value : `tcp://${value}`);
  } catch {
    throw new Error(`Docker host "${value}" is not a valid address: use unix:///var/run/docker.sock or tcp://host:2375`);
  }
  const secure = url.protocol === 'https:' || url.port === '2376';
  if (!['tcp:', 'http:', 'https:'].includes(url.protocol)) {
    throw new Error(`Docker host "${value}": only unix://, tcp://, http:// and https:// are supported`);
  }
  return {
    ...blank,
    host: url.hostname,
    port: url.port || (secure ? '2376' : '2375'),
    protocol: secure ? 'https' : 'http',
    pathPrefix: url.pathname && url.pathname !== '/' ? url.pathname : '/',
    address: `${secure ? 'https' : 'http'}://${url.host}`,
  };
}

export function connectDocker(host: string | undefined): DockerConnection {
  const secure = host !== undefined && /^(https:|.*:2376\b)/.test(host.trim());
  const agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  const { address, ...options } = modemOptions(host, agent);
  return { docker: new Docker(options as Docker.DockerOptions), address, close: () => agent.destroy() };
}

/**
 * Whether a daemon answers at `host` (default: the local socket) within `timeoutMs`.
 * `flotilla dev` uses it to choose the docker engine over local.
 */
export async function isDockerAvailable(host?: string, timeoutMs = 1500): Promise<boolean> {
  let conn: DockerConnection;
  try {
    conn = connectDocker(host);
  } catch {
    return false;
  }
  try {
    // dockerode passes abortSignal through; its types omit the argument.
    await (conn.docker.ping as (opts: { abortSignal: AbortSignal }) => Promise<unknown>)({ abortSignal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    return false;
  } finally {
    conn.close();
  }
}
