// Env editing: the form edits `NAME=value` lines; the API takes [{name, value}].

export interface EnvVar {
  name: string;
  value: string;
}

export function envToText(env: readonly EnvVar[]): string {
  return env.map((e) => `${e.name}=${e.value}`).join('\n');
}

/** Blank lines are skipped; a line without "=" is a name with an empty value. */
export function textToEnv(text: string): EnvVar[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const eq = l.indexOf('=');
      return eq < 0 ? { name: l, value: '' } : { name: l.slice(0, eq).trim(), value: l.slice(eq + 1) };
    });
}

export function splitList(text: string): string[] {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * A ValidationError's fields, keyed by the form field they name: the first path segment
 * (after a leading "input"), so `env.0.name` lands on the env field.
 */
export function errorsByField(fields: readonly { path: readonly string[]; message: string }[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of fields) {
    const path = f.path[0] === 'input' ? f.path.slice(1) : f.path;
    const key = path[0] ?? '';
    (out[key] ??= []).push(f.message);
  }
  return out;
}
