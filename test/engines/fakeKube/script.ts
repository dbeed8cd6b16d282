// What the fake kubelet "runs": a tiny interpreter for the shell the tests give a Job
// (`bash -l -c <command>`). It understands just enough bash for the engine tests:
//   echo WORDS          one output line (quotes, $VAR and ${VAR} from the container env;
//                       `>&2` is dropped: a pod log merges stdout and stderr)
//   printf 'FORMAT'     its lines, with \\NNN (octal), \\r, \\n, \\t, \\\\ and %% decoded (no
//                       other conversions); a pod log holds text, so bytes that are not
//                       UTF-8 cannot be played
//   sleep N             wait N seconds (fractions allowed)
//   exit N              end with code N
//   true / false / :    status 0 / 1 / 0
//   for V in WORDS; do …; done   WORDS may be `$(seq A B)`
// Statements are separated by `;`, `&&` or newlines. Anything else is ignored (status 0).
// The command's end without `exit` ends with the last status, as bash does.

export type Step = { kind: 'echo'; text: string } | { kind: 'sleep'; seconds: number } | { kind: 'exit'; code: number };

/** Splits on ; && and newlines outside quotes and $( ). */
function splitStatements(command: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | null = null;
  let depth = 0;
  for (let i = 0; i < command.length; i++) {
    const ch = command[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < command.length) {
        cur += ch + command[++i];
        continue;
      }
      cur += ch;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '$' && command[i + 1] === '(') depth++;
    else if (ch === ')' && depth > 0) depth--;
    else if (depth === 0 && (ch === ';' || ch === '\n' || (ch === '&' && command[i + 1] === '&'))) {
      if (ch === '&') i++;
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += ch;
  }
  out.push(cur.trim());
  return out.filter(Boolean);
}

function expand(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? '');
}

/** Shell words with quotes removed and variables expanded (not in single quotes). */
function words(text: string, vars: Record<string, string>): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      cur += text.slice(i + 1, end < 0 ? undefined : end);
      i = end < 0 ? text.length : end;
      has = true;
    } else if (ch === '"') {
      let j = i + 1;
      let inner = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        inner += text[j];
        j++;
      }
      cur += expand(inner, vars);
      i = j;
      has = true;
    } else if (/\s/.test(ch)) {
      if (has) out.push(cur);
      cur = '';
      has = false;
    } else {
      let j = i;
      let raw = '';
      while (j < text.length && !/[\s'"]/.test(text[j]!)) raw += text[j++];
      cur += expand(raw, vars);
      i = j - 1;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

interface Block {
  statements: string[];
}

function loopWords(list: string, vars: Record<string, string>): string[] {
  const seq = /^\$\(\s*seq\s+(-?\d+)\s+(-?\d+)\s*\)$/.exec(list.trim());
  if (seq) {
    const out: string[] = [];
    for (let n = Number(seq[1]); n <= Number(seq[2]); n++) out.push(String(n));
    return out;
  }
  return words(list, vars);
}

/** Turns the command into the steps it takes with this env (loops unrolled, variables expanded). */
export function interpret(command: string, env: Record<string, string>): { steps: Step[]; exitCode: number } {
  const steps: Step[] = [];
  let status = 0;
  let exited = false;

  function run(block: Block, vars: Record<string, string>): void {
    const list = block.statements;
    for (let i = 0; i < list.length && !exited; i++) {
      const stmt = list[i]!;
      const forMatch = /^for\s+(\w+)\s+in\s+(.*)$/.exec(stmt);
      if (forMatch) {
        // Gather the body up to the matching `done`.
        const body: string[] = [];
        let depth = 1;
        for (i = i + 1; i < list.length; i++) {
          let s = list[i]!;
          if (/^for\s/.test(s)) depth++;
          if (s === 'done' && --depth === 0) break;
          if (body.length === 0 && s.startsWith('do ')) s = s.slice(3).trim();
          else if (body.length === 0 && s === 'do') continue;
          body.push(s);
        }
        for (const value of loopWords(forMatch[2]!, vars)) {
          run({ statements: body }, { ...vars, [forMatch[1]!]: value });
          if (exited) return;
        }
        continue;
      }
      const stripped = stmt.replace(/\s*\d?>&\d\s*/g, ' ').trim();
      const argv = words(stripped, vars);
      const [cmd, ...args] = argv;
      switch (cmd) {
        case 'echo': {
          const text = args.filter((a, n) => !(n === 0 && (a === '-n' || a === '-e'))).join(' ');
          steps.push({ kind: 'echo', text });
          status = 0;
          break;
        }
        case 'printf': {
          const text = (args[0] ?? '').replace(/\\([0-7]{1,3})|\\([rnt\\])|%%/g, (_m, oct: string | undefined, esc: string | undefined) =>
            oct !== undefined
              ? String.fromCharCode(parseInt(oct, 8))
              : esc === undefined
                ? '%'
                : ({ r: '\r', n: '\n', t: '\t', '\\': '\\' } as Record<string, string>)[esc]!,
          );
          for (const line of text.split('\n').slice(0, text.endsWith('\n') ? -1 : undefined)) steps.push({ kind: 'echo', text: line });
          status = 0;
          break;
        }
        case 'sleep':
          steps.push({ kind: 'sleep', seconds: Number(args[0] ?? 0) || 0 });
          status = 0;
          break;
        case 'exit':
          status = args[0] === undefined ? status : Number(args[0]) & 255;
          steps.push({ kind: 'exit', code: status });
          exited = true;
          return;
        case 'false':
          status = 1;
          break;
        default:
          status = 0;
      }
    }
  }

  run({ statements: splitStatements(command) }, { ...env });
  if (!exited) steps.push({ kind: 'exit', code: status });
  const last = steps[steps.length - 1];
  return { steps, exitCode: last?.kind === 'exit' ? last.code : status };
}
