// The decision `serve` (and `dev`) insist on before listening beyond loopback: an API that
// runs commands, open to whoever reaches the port, must be a choice someone wrote down.
import { ConfigError, type Config } from '../config.js';
import type { Logger } from '../logger.js';

/** Throws when nobody decided about auth on a non-loopback HOST; returns the warnings to show (start and /health/ready). */
export function exposureWarnings(config: Config): string[] {
  const s = config.security;
  const warnings: string[] = [];
  if (s.loopback) return warnings;
  if (s.auth === 'none' && !s.authExplicit) {
    throw new ConfigError(
      `HOST=${config.host} serves the API beyond this machine, and FLOTILLA_AUTH is not set: anyone who reaches the port could run commands, stop runs and read logs.\n` +
        'Choose: FLOTILLA_AUTH=token (API tokens from `flotilla token create`), FLOTILLA_AUTH=oidc, FLOTILLA_AUTH=proxy (behind oauth2-proxy), ' +
        'or FLOTILLA_AUTH=none if something in front of Flotilla already authenticates every request. Or bind to 127.0.0.1 (HOST=127.0.0.1).',
    );
  }
  if (s.auth === 'none') warnings.push(`FLOTILLA_AUTH=none on HOST=${config.host}: every caller is an admin; make sure only trusted clients reach this port`);
  if (!s.hostsListed) warnings.push('FLOTILLA_ALLOWED_HOSTS is not set: any Host header is served; list the names clients use (stops DNS rebinding)');
  return warnings;
}

export function logExposure(warnings: string[], logger: Logger): void {
  for (const w of warnings) logger.warn(w);
}
