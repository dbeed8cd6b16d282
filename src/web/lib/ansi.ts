// ANSI colour codes in log lines → styled segments, through anser (a maintained parser).
// Classes (not inline colours) so both themes choose readable shades.
import Anser from 'anser';

export interface Segment {
  text: string;
  className: string;
}

// A cheap check first: most lines have no escape codes, and the view parses only visible rows.
const ESC = '\u001b';

export function ansiSegments(line: string): Segment[] {
  if (!line.includes(ESC)) return [{ text: line, className: '' }];
  const parts = Anser.ansiToJson(line, { use_classes: true, remove_empty: true });
  return parts.map((p) => {
    const classes: string[] = [];
    if (p.fg) classes.push(`${p.fg}-fg`);
    if (p.bg) classes.push(`${p.bg}-bg`);
    for (const d of p.decorations ?? []) classes.push(`ansi-${d}`);
    return { text: p.content, className: classes.join(' ') };
  });
}

/** The line as plain text, for search and copy. */
export function stripAnsi(line: string): string {
  return line.includes(ESC) ? Anser.ansiToText(line) : line;
}
