// Request headers both transports read the same way (REST and GraphQL share it).

/** The e-mail of whoever stops a run: any request header whose name contains `-email`. */
export function stopperEmail(headers: Headers): string | undefined {
  for (const [name, value] of headers) {
    if (name.toLowerCase().includes('-email') && value.trim()) return value.trim();
  }
  return undefined;
}
