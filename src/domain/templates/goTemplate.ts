// A renderer for the subset of Go `text/template` that template commands use (docs/templates.md
// lists it). @ctrl/golang-template was checked first: it has no pipelines (`|`), no
// comparison functions, no variables and no way to add functions, and its `join` takes its
// arguments in the opposite order to Sprig's, so templates written for the classic service
// would render differently. Parse once (errors name line and column), then render.

export class TemplateError extends Error {
  override name = 'TemplateError';
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`line ${line}, column ${column}: ${message}`);
  }
}

// ---- syntax tree ----

type Operand =
  | { kind: 'field'; path: string[]; at: number } // .a.b ('.' alone: path [])
  | { kind: 'var'; name: string; path: string[]; at: number } // $x.a
  | { kind: 'literal'; value: unknown; at: number }
  | { kind: 'ident'; name: string; at: number }
  | { kind: 'pipe'; pipe: Pipeline; path: string[]; at: number };

interface Command {
  args: Operand[];
  at: number;
}

interface Pipeline {
  decl: string[]; // variables declared (`$x :=`, `$i, $v :=` in range)
  assign: boolean; // `$x =` assigns an existing variable
  cmds: Command[];
  at: number;
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if' | 'with'; pipe: Pipeline; body: Node[]; otherwise: Node[] }
  | { kind: 'range'; pipe: Pipeline; body: Node[]; otherwise: Node[] };

// ---- lexing of the text into text and actions ----

interface Action {
  body: string;
  at: number; // offset of the body's first character in the template
}

function split(src: string): (string | Action)[] {
  const out: (string | Action)[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open < 0 ? src.slice(i) : src.slice(i, open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      if (text) out.push(text);
      break;
    }
    let bodyStart = open + 2;
    if (src.startsWith('- ', bodyStart) || src.startsWith('-\t', bodyStart) || src.startsWith('-\n', bodyStart)) {
      text = text.replace(/\s+$/, '');
      bodyStart += 1;
    }
    if (text) out.push(text);
    const close = findClose(src, bodyStart);
    if (close < 0) throw errorAt(src, open, 'unclosed action: "{{" without "}}"');
    let bodyEnd = close;
    if (close > bodyStart && src[close - 1] === '-' && /\s/.test(src[close - 2] ?? '')) {
      trimNext = true;
      bodyEnd = close - 1;
    }
    out.push({ body: src.slice(bodyStart, bodyEnd), at: bodyStart });
    i = close + 2;
  }
  return out;
}

/** The `}}` closing an action, skipping quoted strings (which may contain `}}`). */
function findClose(src: string, from: number): number {
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === '`' || c === "'") {
      const q = c;
      for (i++; i < src.length && src[i] !== q; i++) if (q !== '`' && src[i] === '\\') i++;
      continue;
    }
    if (c === '}' && src[i + 1] === '}') return i;
  }
  return -1;
}

function errorAt(src: string, offset: number, message: string): TemplateError {
  const before = src.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return new TemplateError(message, line, column);
}

// ---- lexing of an action's body ----

type Tok =
  | { t: 'field'; path: string[]; at: number }
  | { t: 'var'; name: string; path: string[]; at: number }
  | { t: 'lit'; value: unknown; at: number }
  | { t: 'ident'; name: string; at: number }
  | { t: 'sym'; s: '|' | '(' | ')' | ':=' | '=' | ','; at: number }
  | { t: 'dotpath'; path: string[]; at: number }; // `.x` right after `)`

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;

function lexAction(src: string, a: Action): Tok[] {
  const s = a.body;
  const toks: Tok[] = [];
  let i = 0;
  const fail = (at: number, m: string) => errorAt(src, a.at + at, m);
  const readPath = (): string[] => {
    const path: string[] = [];
    while (s[i] === '.' && /[A-Za-z_]/.test(s[i + 1] ?? '')) {
      IDENT.lastIndex = i + 1;
      const m = IDENT.exec(s)!;
      path.push(m[0]);
      i = IDENT.lastIndex;
    }
    return path;
  };
  while (i < s.length) {
    const c = s[i]!;
    const at = i;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '.') {
      if (/[A-Za-z_]/.test(s[i + 1] ?? '')) {
        const prev = toks.at(-1);
        const path = readPath();
        if (prev && prev.t === 'sym' && prev.s === ')' && at === prev.at + 1) toks.push({ t: 'dotpath', path, at });
        else toks.push({ t: 'field', path, at });
      } else if (/[0-9]/.test(s[i + 1] ?? '')) {
        const m = /\.[0-9]+(?:[eE][+-]?[0-9]+)?/y;
        m.lastIndex = i;
        const r = m.exec(s)!;
        toks.push({ t: 'lit', value: Number(r[0]), at });
        i = m.lastIndex;
      } else {
        toks.push({ t: 'field', path: [], at });
        i++;
      }
    } else if (c === '$') {
      IDENT.lastIndex = i + 1;
      const m = IDENT.exec(s);
      const name = m && m.index === i + 1 ? m[0] : '';
      i += 1 + name.length;
      toks.push({ t: 'var', name: '$' + name, path: readPath(), at });
    } else if (c === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      if (j >= s.length) throw fail(at, 'unterminated quoted string');
      try {
        toks.push({ t: 'lit', value: JSON.parse(s.slice(i, j + 1)) as string, at });
      } catch {
        throw fail(at, `bad quoted string ${s.slice(i, j + 1)}`);
      }
      i = j + 1;
    } else if (c === '`') {
      const j = s.indexOf('`', i + 1);
      if (j < 0) throw fail(at, 'unterminated raw string');
      toks.push({ t: 'lit', value: s.slice(i + 1, j), at });
      i = j + 1;
    } else if (c === "'") {
      const m = /'(\\.|[^'\\])'/y;
      m.lastIndex = i;
      const r = m.exec(s);
      if (!r) throw fail(at, 'bad character constant');
      toks.push({ t: 'lit', value: (JSON.parse(`"${r[1]!.replace(/^\\'$/, "'")}"`) as string).codePointAt(0), at });
      i = m.lastIndex;
    } else if (/[-+0-9]/.test(c) && /[0-9.]/.test(c === '-' || c === '+' ? (s[i + 1] ?? '') : c)) {
      const m = /[-+]?(?:0[xX][0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)/y;
      m.lastIndex = i;
      const r = m.exec(s)!;
      toks.push({ t: 'lit', value: Number(r[0]), at });
      i = m.lastIndex;
    } else if (c === ':' && s[i + 1] === '=') {
      toks.push({ t: 'sym', s: ':=', at });
      i += 2;
    } else if (c === '|' || c === '(' || c === ')' || c === '=' || c === ',') {
      toks.push({ t: 'sym', s: c, at });
      i++;
    } else if (/[A-Za-z_]/.test(c)) {
      IDENT.lastIndex = i;
      const name = IDENT.exec(s)![0];
      i = IDENT.lastIndex;
      if (name === 'true' || name === 'false') toks.push({ t: 'lit', value: name === 'true', at });
      else if (name === 'nil') toks.push({ t: 'lit', value: null, at });
      else toks.push({ t: 'ident', name, at });
    } else {
      throw fail(at, `unexpected "${c}" in action`);
    }
  }
  // Positions become offsets in the whole template, for error messages.
  return toks.map((t) => ({ ...t, at: t.at + a.at }));
}

// ---- parsing ----

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);

export interface ParsedTemplate {
  nodes: Node[];
  source: string;
}

export function parseTemplate(source: string): ParsedTemplate {
  const parts = split(source);
  let pos = 0;
  // Variables in scope while parsing, so an undefined one is a parse error (as in Go).
  const scopes: Set<string>[] = [new Set(['$'])];
  const declared = (name: string) => scopes.some((sc) => sc.has(name));

  function parsePipeline(src: Action, toks: Tok[], start: number, opts: { range?: boolean } = {}): Pipeline {
    let i = start;
    const fail = (at: number, m: string) => errorAt(source, at, m);
    const at = toks[i]?.at ?? src.at + src.body.length;
    const decl: string[] = [];
    let assign = false;
    // Declarations: `$x :=`, `$x =`, and in range `$i, $v :=`.
    const look = (k: number) => toks[i + k];
    if (look(0)?.t === 'var') {
      const v0 = look(0) as Extract<Tok, { t: 'var' }>;
      const n1 = look(1);
      if (n1?.t === 'sym' && (n1.s === ':=' || n1.s === '=') && v0.path.length === 0) {
        decl.push(v0.name);
        assign = n1.s === '=';
        i += 2;
      } else if (opts.range && n1?.t === 'sym' && n1.s === ',' && look(2)?.t === 'var' && look(3)?.t === 'sym') {
        const v1 = look(2) as Extract<Tok, { t: 'var' }>;
        if ((look(3) as Extract<Tok, { t: 'sym' }>).s !== ':=') throw fail(look(3)!.at, 'range can only declare variables with :=');
        decl.push(v0.name, v1.name);
        i += 4;
      }
    }
    if (assign && !declared(decl[0]!)) throw fail(at, `undefined variable "${decl[0]}"`);
    const cmds: Command[] = [];
    let args: Operand[] = [];
    let cmdAt = toks[i]?.at ?? at;
    const endCmd = (where: number) => {
      if (args.length === 0) throw fail(where, 'missing value for command');
      cmds.push({ args, at: cmdAt });
      args = [];
    };
    while (i < toks.length) {
      const tok = toks[i]!;
      if (tok.t === 'sym' && tok.s === '|') {
        endCmd(tok.at);
        i++;
        cmdAt = toks[i]?.at ?? tok.at;
        continue;
      }
      if (tok.t === 'sym' && tok.s === ')') break;
      if (tok.t === 'sym' && tok.s === '(') {
        // A parenthesised pipeline, to its matching ')'.
        let depth = 0;
        let j = i;
        for (; j < toks.length; j++) {
          const tj = toks[j]!;
          if (tj.t === 'sym' && tj.s === '(') depth++;
          if (tj.t === 'sym' && tj.s === ')' && --depth === 0) break;
        }
        if (j >= toks.length) throw fail(tok.at, 'unclosed left paren');
        const inner = parsePipeline(src, toks.slice(i + 1, j), 0);
        if (inner.decl.length) throw fail(tok.at, 'cannot declare a variable inside parentheses');
        const next = toks[j + 1];
        const path = next?.t === 'dotpath' ? next.path : [];
        args.push({ kind: 'pipe', pipe: inner, path, at: tok.at });
        i = j + (next?.t === 'dotpath' ? 2 : 1);
        continue;
      }
      if (tok.t === 'sym') throw fail(tok.at, `unexpected "${tok.s}"`);
      if (tok.t === 'dotpath') throw fail(tok.at, 'unexpected field access');
      if (tok.t === 'field') args.push({ kind: 'field', path: tok.path, at: tok.at });
      else if (tok.t === 'var') {
        if (!declared(tok.name)) throw fail(tok.at, `undefined variable "${tok.name}"`);
        args.push({ kind: 'var', name: tok.name, path: tok.path, at: tok.at });
      } else if (tok.t === 'lit') args.push({ kind: 'literal', value: tok.value, at: tok.at });
      else {
        if (KEYWORDS.has(tok.name)) throw fail(tok.at, `unexpected keyword "${tok.name}"`);
        if (!(tok.name in FUNCTIONS)) throw fail(tok.at, `function "${tok.name}" not defined`);
        args.push({ kind: 'ident', name: tok.name, at: tok.at });
      }
      i++;
    }
    if (i < toks.length) throw fail(toks[i]!.at, 'unexpected ")"');
    endCmd(src.at + src.body.length);
    for (const c of cmds.slice(1)) {
      if (c.args[0]?.kind !== 'ident') throw fail(c.at, 'a command after "|" must be a function');
    }
    if (!assign) for (const name of decl) scopes.at(-1)!.add(name);
    return { decl, assign, cmds, at };
  }

  /** Parses nodes until `{{end}}` / `{{else…}}` (returned as the stop keyword). */
  function parseList(inBlock: boolean): { nodes: Node[]; stop?: { word: 'end' | 'else'; action: Action; toks: Tok[] } } {
    const nodes: Node[] = [];
    while (pos < parts.length) {
      const part = parts[pos++]!;
      if (typeof part === 'string') {
        nodes.push({ kind: 'text', text: part });
        continue;
      }
      const trimmed = part.body.trim();
      if (trimmed.startsWith('/*')) {
        if (!trimmed.endsWith('*/')) throw errorAt(source, part.at, 'unclosed comment');
        continue;
      }
      const toks = lexAction(source, part);
      if (toks.length === 0) throw errorAt(source, part.at, 'missing value for command');
      const first = toks[0]!;
      const word = first.t === 'ident' ? first.name : undefined;
      if (word === 'end' || word === 'else') {
        if (!inBlock) throw errorAt(source, first.at, `unexpected {{${word}}}`);
        return { nodes, stop: { word, action: part, toks } };
      }
      if (word === 'if' || word === 'with' || word === 'range') {
        nodes.push(parseBlock(word, part, toks));
        continue;
      }
      if (word && ['define', 'template', 'block', 'break', 'continue'].includes(word)) {
        throw errorAt(source, first.at, `{{${word}}} is not supported here (docs/templates.md lists what is)`);
      }
      nodes.push({ kind: 'action', pipe: parsePipeline(part, toks, 0) });
    }
    if (inBlock) throw errorAt(source, source.length, 'unexpected end of template: missing {{end}}');
    return { nodes };
  }

  function parseBlock(word: 'if' | 'with' | 'range', action: Action, toks: Tok[]): Node {
    scopes.push(new Set());
    const pipe = parsePipeline(action, toks, 1, { range: word === 'range' });
    if (pipe.cmds.length === 0) throw errorAt(source, action.at, `missing value for ${word}`);
    const body = parseList(true);
    let otherwise: Node[] = [];
    scopes.pop();
    if (body.stop?.word === 'else') {
      const rest = body.stop.toks.slice(1);
      if (
        rest.length > 0 &&
        rest[0]!.t === 'ident' &&
        ((rest[0] as { name: string }).name === 'if' || (rest[0] as { name: string }).name === 'with') &&
        word !== 'range'
      ) {
        // `{{else if …}}`: a nested block that shares this block's {{end}}.
        const nestedWord = (rest[0] as { name: string }).name as 'if' | 'with';
        otherwise = [parseBlock(nestedWord, body.stop.action, rest)];
        return { kind: word, pipe, body: body.nodes, otherwise };
      }
      if (rest.length > 0) throw errorAt(source, rest[0]!.at, 'unexpected tokens after else');
      scopes.push(new Set());
      const elseList = parseList(true);
      scopes.pop();
      if (elseList.stop?.word !== 'end') throw errorAt(source, elseList.stop!.action.at, 'expected {{end}} after {{else}} block');
      otherwise = elseList.nodes;
    } else if (body.stop && body.stop.toks.length > 1) {
      throw errorAt(source, body.stop.toks[1]!.at, 'unexpected tokens after end');
    }
    return { kind: word, pipe, body: body.nodes, otherwise };
  }

  return { nodes: parseList(false).nodes, source };
}

// ---- evaluation ----

/** Go's truth: false, 0, nil, and empty strings, arrays and maps are false. */
export function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** How Go's fmt prints a value decoded from JSON (maps sorted by key). Missing values print as "". */
export function printValue(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(printValue).join(' ')}]`;
  if (typeof v === 'object') {
    const entries = Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, x]) => `${k}:${printValue(x)}`).join(' ')}]`;
  }
  return String(v);
}

class EvalError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

type Fn = (args: unknown[], at: number) => unknown;

const isNum = (v: unknown): v is number => typeof v === 'number';

function compare(name: string, a: unknown, b: unknown, at: number): number {
  if ((isNum(a) && isNum(b)) || (typeof a === 'string' && typeof b === 'string')) return a < b ? -1 : a > b ? 1 : 0;
  throw new EvalError(`${name}: incompatible types for comparison (${typeof a} and ${typeof b})`, at);
}

function arity(name: string, args: unknown[], n: number, at: number): void {
  if (args.length !== n) throw new EvalError(`wrong number of args for ${name}: want ${n} got ${args.length}`, at);
}

function quoteGo(s: string): string {
  return JSON.stringify(s);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** Go's builtins and the documented Sprig subset. */
const FUNCTIONS: Record<string, Fn> = {
  and: (a) => a.find((v) => !truthy(v)) ?? a.at(-1),
  or: (a) => a.find((v) => truthy(v)) ?? a.at(-1),
  not: (a, at) => (arity('not', a, 1, at), !truthy(a[0])),
  eq: (a, at) => {
    if (a.length < 2) throw new EvalError('missing argument for comparison', at);
    return a.slice(1).some((b) => a[0] === b || (a[0] == null && b == null));
  },
  ne: (a, at) => (arity('ne', a, 2, at), a[0] !== a[1]),
  lt: (a, at) => (arity('lt', a, 2, at), compare('lt', a[0], a[1], at) < 0),
  le: (a, at) => (arity('le', a, 2, at), compare('le', a[0], a[1], at) <= 0),
  gt: (a, at) => (arity('gt', a, 2, at), compare('gt', a[0], a[1], at) > 0),
  ge: (a, at) => (arity('ge', a, 2, at), compare('ge', a[0], a[1], at) >= 0),
  len: (a, at) => {
    arity('len', a, 1, at);
    const v = a[0];
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v !== null && typeof v === 'object') return Object.keys(v).length;
    throw new EvalError(`len of ${printValue(v) || 'nil'}`, at);
  },
  index: (a, at) => {
    if (a.length < 1) throw new EvalError('wrong number of args for index: want at least 1 got 0', at);
    let v = a[0];
    for (const k of a.slice(1)) {
      if (Array.isArray(v)) {
        if (!isNum(k) || !Number.isInteger(k) || k < 0 || k >= v.length) throw new EvalError(`index out of range: ${printValue(k)}`, at);
        v = v[k];
      } else if (v !== null && typeof v === 'object') {
        v = (v as Record<string, unknown>)[String(k)];
      } else if (v == null) {
        return undefined;
      } else {
        throw new EvalError(`can't index item of type ${typeof v}`, at);
      }
    }
    return v;
  },
  print: (a) => a.map(printValue).join(''),
  println: (a) => a.map(printValue).join(' ') + '\n',
  printf: (a, at) => {
    if (typeof a[0] !== 'string') throw new EvalError('printf: the format must be a string', at);
    let k = 1;
    return a[0].replace(/%([%sdvqf])/g, (_m, verb: string) => {
      if (verb === '%') return '%';
      const v = a[k++];
      if (verb === 'q') return quoteGo(printValue(v));
      if (verb === 'd') return isNum(v) ? String(Math.trunc(v)) : `%!d(${printValue(v)})`;
      if (verb === 'f') return isNum(v) ? v.toFixed(6) : `%!f(${printValue(v)})`;
      return printValue(v);
    });
  },
  // Sprig
  default: (a, at) => {
    if (a.length !== 2) throw new EvalError(`wrong number of args for default: want 2 got ${a.length}`, at);
    return truthy(a[1]) ? a[1] : a[0];
  },
  quote: (a) => a.map((v) => quoteGo(printValue(v))).join(' '),
  squote: (a) => a.map((v) => `'${printValue(v)}'`).join(' '),
  join: (a, at) => {
    arity('join', a, 2, at);
    const list = a[1];
    if (list == null) return '';
    if (!Array.isArray(list)) return printValue(list);
    return list.map(printValue).join(printValue(a[0]));
  },
  // Go's encoding/json writes map keys sorted.
  toJson: (a, at) => (arity('toJson', a, 1, at), JSON.stringify(sortKeys(a[0] ?? null))),
  upper: (a, at) => (arity('upper', a, 1, at), printValue(a[0]).toUpperCase()),
  lower: (a, at) => (arity('lower', a, 1, at), printValue(a[0]).toLowerCase()),
  trim: (a, at) => (arity('trim', a, 1, at), printValue(a[0]).trim()),
  replace: (a, at) => (arity('replace', a, 3, at), printValue(a[2]).split(printValue(a[0])).join(printValue(a[1]))),
  contains: (a, at) => (arity('contains', a, 2, at), printValue(a[1]).includes(printValue(a[0]))),
  hasPrefix: (a, at) => (arity('hasPrefix', a, 2, at), printValue(a[1]).startsWith(printValue(a[0]))),
  hasSuffix: (a, at) => (arity('hasSuffix', a, 2, at), printValue(a[1]).endsWith(printValue(a[0]))),
};

export const TEMPLATE_FUNCTIONS = Object.keys(FUNCTIONS);

/** Output cap: a command is not megabytes long, and a runaway range stops here. */
export const MAX_OUTPUT = 256 * 1024;

function walk(v: unknown, path: string[], at: number): unknown {
  for (const key of path) {
    if (v == null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw new EvalError(`can't evaluate field ${key} in type ${Array.isArray(v) ? 'array' : typeof v}`, at);
    v = Object.prototype.hasOwnProperty.call(v, key) ? (v as Record<string, unknown>)[key] : undefined;
  }
  return v;
}

export function renderTemplate(t: ParsedTemplate, data: unknown): string {
  let out = '';
  const vars: Map<string, unknown>[] = [new Map([['$', data]])];
  const lookup = (name: string) => {
    for (let i = vars.length - 1; i >= 0; i--) if (vars[i]!.has(name)) return vars[i]!.get(name);
    return undefined;
  };
  const setVar = (name: string, value: unknown, assign: boolean) => {
    if (assign) {
      for (let i = vars.length - 1; i >= 0; i--) if (vars[i]!.has(name)) return void vars[i]!.set(name, value);
    }
    vars.at(-1)!.set(name, value);
  };

  const operand = (o: Operand, dot: unknown): unknown => {
    switch (o.kind) {
      case 'field':
        return walk(dot, o.path, o.at);
      case 'var':
        return walk(lookup(o.name), o.path, o.at);
      case 'literal':
        return o.value;
      case 'pipe':
        return walk(pipeline(o.pipe, dot), o.path, o.at);
      case 'ident':
        return FUNCTIONS[o.name]!([], o.at);
    }
  };

  const command = (c: Command, dot: unknown, piped: { value: unknown } | undefined): unknown => {
    const [head, ...rest] = c.args;
    if (head!.kind === 'ident') {
      const args = rest.map((a) => operand(a, dot));
      if (piped) args.push(piped.value);
      return FUNCTIONS[head!.name]!(args, head!.at);
    }
    if (rest.length > 0 || piped) throw new EvalError(`can't give argument to non-function`, head!.at);
    return operand(head!, dot);
  };

  const pipeline = (p: Pipeline, dot: unknown): unknown => {
    let value: { value: unknown } | undefined;
    for (const c of p.cmds) value = { value: command(c, dot, value) };
    return value!.value;
  };

  const emit = (s: string, at: number) => {
    out += s;
    if (out.length > MAX_OUTPUT) throw new EvalError(`output longer than ${MAX_OUTPUT} characters`, at);
  };

  const list = (nodes: Node[], dot: unknown): void => {
    for (const n of nodes) {
      if (n.kind === 'text') emit(n.text, 0);
      else if (n.kind === 'action') {
        const v = pipeline(n.pipe, dot);
        if (n.pipe.decl.length) setVar(n.pipe.decl[0]!, v, n.pipe.assign);
        else emit(printValue(v), n.pipe.at);
      } else {
        vars.push(new Map());
        try {
          block(n, dot);
        } finally {
          vars.pop();
        }
      }
    }
  };

  const block = (n: Extract<Node, { kind: 'if' | 'with' | 'range' }>, dot: unknown): void => {
    const v = pipeline(n.pipe, dot);
    if (n.kind !== 'range' && n.pipe.decl.length) setVar(n.pipe.decl[0]!, v, n.pipe.assign);
    if (n.kind === 'if') return list(truthy(v) ? n.body : n.otherwise, dot);
    if (n.kind === 'with') return list(truthy(v) ? n.body : n.otherwise, truthy(v) ? v : dot);
    let items: [unknown, unknown][];
    if (Array.isArray(v)) items = v.map((x, i) => [i, x]);
    else if (v !== null && typeof v === 'object')
      items = Object.keys(v)
        .sort()
        .map((k) => [k, (v as Record<string, unknown>)[k]]);
    else if (isNum(v) && Number.isInteger(v) && v >= 0) items = Array.from({ length: Math.min(v, MAX_OUTPUT) }, (_x, i) => [i, i]);
    else if (v == null) items = [];
    else throw new EvalError(`range can't iterate over ${printValue(v)}`, n.pipe.at);
    if (items.length === 0) return list(n.otherwise, dot);
    for (const [k, x] of items) {
      if (n.pipe.decl.length === 1) setVar(n.pipe.decl[0]!, x, false);
      if (n.pipe.decl.length === 2) {
        setVar(n.pipe.decl[0]!, k, false);
        setVar(n.pipe.decl[1]!, x, false);
      }
      list(n.body, x);
    }
  };

  try {
    list(t.nodes, data);
  } catch (err) {
    if (err instanceof EvalError) {
      const e = errorAt(t.source, err.at, err.message);
      throw e;
    }
    throw err;
  }
  return out;
}

/** Parse and render in one go. */
export function render(source: string, data: unknown): string {
  return renderTemplate(parseTemplate(source), data);
}
