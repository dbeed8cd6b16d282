// The Go text/template subset template commands are rendered with (docs/templates.md). The
// expected strings are what Go's text/template (with Sprig for default/quote/join/toJson/
// upper/lower) prints for the same template and JSON-decoded data.
import { describe, expect, it } from 'vitest';
import { parseTemplate, render, TemplateError } from '../../src/domain/templates/goTemplate.js';

const data = {
  lr: 0.01,
  epochs: 10,
  name: 'Model-A',
  flags: ['--fast', '--quiet'],
  nested: { a: { b: 'deep' } },
  empty: '',
  zero: 0,
  on: true,
  off: false,
  list: [],
  obj: { y: 2, x: 1 },
};

describe('render', () => {
  it.each([
    ['plain text', 'python train.py', 'python train.py'],
    ['fields', 'python train.py --lr {{.lr}} --epochs {{ .epochs }}', 'python train.py --lr 0.01 --epochs 10'],
    ['nested fields', '{{.nested.a.b}}', 'deep'],
    ['dot', '{{with .nested.a}}{{.}}{{end}}', 'map[b:deep]'],
    ['missing key prints nothing', '[{{.missing}}] [{{.nested.nope.deeper}}]', '[] []'],
    ['arrays and maps print as Go does', '{{.flags}} {{.obj}} {{.list}}', '[--fast --quiet] map[x:1 y:2] []'],
    ['booleans', '{{.on}} {{.off}}', 'true false'],
    ['if / else', '{{if .on}}yes{{else}}no{{end}} {{if .off}}yes{{else}}no{{end}}', 'yes no'],
    ['Go truth: empty string, 0, empty list are false', '{{if .empty}}a{{end}}{{if .zero}}b{{end}}{{if .list}}c{{end}}{{if .flags}}d{{end}}', 'd'],
    ['else if', '{{if .off}}1{{else if .zero}}2{{else if .name}}3{{else}}4{{end}}', '3'],
    ['range over a list', '{{range .flags}}<{{.}}>{{end}}', '<--fast><--quiet>'],
    ['range with index and value', '{{range $i, $f := .flags}}{{$i}}={{$f}};{{end}}', '0=--fast;1=--quiet;'],
    ['range over a map is in key order', '{{range $k, $v := .obj}}{{$k}}{{$v}}{{end}}', 'x1y2'],
    ['range else on empty', '{{range .list}}x{{else}}none{{end}}', 'none'],
    ['$ is the root inside range', '{{range .flags}}{{$.name}}{{end}}', 'Model-AModel-A'],
    ['with / else', '{{with .missing}}a{{else}}b{{end}}{{with .name}}{{.}}{{end}}', 'bModel-A'],
    ['variables', '{{$n := .name}}{{$n}}-{{$n = "B"}}{{$n}}', 'Model-A-B'],
    ['index on lists and maps', '{{index .flags 1}} {{index .obj "x"}} {{index .nested "a" "b"}}', '--quiet 1 deep'],
    ['pipelines pass the value as the last argument', '{{.name | lower}} {{.name | upper | quote}}', 'model-a "MODEL-A"'],
    ['default', '{{.missing | default "x"}} {{.empty | default "y"}} {{.name | default "z"}} {{default 5 .zero}}', 'x y Model-A 5'],
    ['quote escapes', '{{quote "a\\"b"}}', '"a\\"b"'],
    ['join (Sprig order: separator first)', '{{join "," .flags}} {{.flags | join " "}}', '--fast,--quiet --fast --quiet'],
    ['toJson', '{{toJson .obj}} {{.flags | toJson}} {{toJson .missing}}', '{"x":1,"y":2} ["--fast","--quiet"] null'],
    [
      'comparisons',
      '{{if eq .epochs 10}}a{{end}}{{if ne .name "x"}}b{{end}}{{if lt .lr 1.0}}c{{end}}{{if ge .epochs 10}}d{{end}}{{if eq .name "x" "Model-A"}}e{{end}}',
      'abcde',
    ],
    ['and / or / not', '{{if and .on .name}}a{{end}}{{if or .off .zero}}b{{end}}{{if not .off}}c{{end}}{{or .empty "fallback"}}', 'acfallback'],
    ['len', '{{len .flags}} {{len .name}} {{len .obj}}', '2 7 2'],
    ['parentheses', '{{(index .nested "a").b}} {{upper (printf "%s-%d" .name .epochs)}}', 'deep MODEL-A-10'],
    ['printf', '{{printf "%s=%v %q %d%%" "a" .lr .name .epochs}}', 'a=0.01 "Model-A" 10%'],
    ['print', '{{print .name .epochs}}', 'Model-A10'],
    ['comments', 'a{{/* nothing */}}b', 'ab'],
    ['trim markers', 'a  {{- .name -}}  b\n{{- " c"}}', 'aModel-Ab c'],
    ['strings with braces', '{{"}}{{"}}', '}}{{'],
    ['raw strings', '{{`a\\nb`}}', 'a\\nb'],
    [
      'more Sprig',
      '{{trim "  x "}} {{replace "-" "_" .name}} {{contains "del" .name}} {{hasPrefix "Mo" .name}} {{hasSuffix "A" .name}}',
      'x Model_A true true true',
    ],
  ])('%s', (_label, template, expected) => {
    expect(render(template, data)).toBe(expected);
  });
});

describe('errors name line and column', () => {
  const cases: [string, string, RegExp][] = [
    ['unclosed action', 'run {{.lr', /^line 1, column 5: unclosed action/],
    ['unknown function', 'run\n  {{ frobnicate .lr }}', /^line 2, column 6: function "frobnicate" not defined/],
    ['missing end', '{{if .on}}x', /missing \{\{end\}\}/],
    ['stray end', 'x{{end}}', /^line 1, column 4: unexpected \{\{end\}\}/],
    ['undefined variable', '{{$x}}', /^line 1, column 3: undefined variable "\$x"/],
    ['unterminated string', '{{"abc}}', /unterminated quoted string|unclosed action/],
    ['pipe into a non-function', '{{.lr | .epochs}}', /a command after "\|" must be a function/],
    ['template/define unsupported', '{{template "x"}}', /\{\{template\}\} is not supported/],
    ['unexpected character', '{{.a ; .b}}', /^line 1, column 6: unexpected ";"/],
    ['empty action', 'a{{ }}b', /missing value for command/],
  ];
  it.each(cases)('parse: %s', (_label, template, message) => {
    expect(() => parseTemplate(template)).toThrow(TemplateError);
    expect(() => parseTemplate(template)).toThrow(message);
  });

  it.each([
    ['field of a string', '{{.name.first}}', /^line 1, column 3: can't evaluate field first in type string/],
    ['index out of range', 'x\n{{index .flags 5}}', /^line 2, column 3: index out of range: 5/],
    ['comparison of a string with a number', '{{if lt .name 3}}x{{end}}', /lt: incompatible types for comparison/],
    ['wrong arity', '{{upper "a" "b"}}', /wrong number of args for upper: want 1 got 2/],
    ['argument to a non-function', '{{.name "x"}}', /can't give argument to non-function/],
    ['range over a string', '{{range .name}}x{{end}}', /range can't iterate over Model-A/],
    ['runaway output', '{{range 100000}}xxxxxxxxxx{{end}}', /output longer than/],
  ])('render: %s', (_label, template, message) => {
    expect(() => render(template, data)).toThrow(TemplateError);
    expect(() => render(template, data)).toThrow(message);
  });
});
