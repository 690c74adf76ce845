import type { Readable } from 'node:stream';

/** One logical row of a text file: its fields (CSV) or whole text (lines), and the physical line it starts on (1-based). */
export interface TextRow {
  line: number;
  /** The row as it stood in the file, without its line ending. */
  text: string;
  /** CSV fields; for line mode the single element is `text`. */
  fields: string[];
}

/**
 * Splits streamed text into rows. Rows come out in whole arrays per pushed chunk because handing
 * them over one at a time through an async iterator costs more than parsing them.
 *
 * Quoted fields (RFC 4180, `""` for a quote) may span lines; unquoted lines take a plain
 * `split(',')`, which is what nearly every row of a real export is.
 */
export class TextRowSplitter {
  private pending = '';
  /** Physical lines consumed so far. */
  private linesSeen = 0;
  /** A quoted field left open at the end of a line: the row so far and where it started. */
  private openRow: { text: string; line: number } | null = null;

  constructor(private readonly mode: 'csv' | 'lines') {}

  push(chunk: string, out: TextRow[] = []): TextRow[] {
    let text = this.pending + chunk;
    if (this.linesSeen === 0 && this.openRow === null && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end === -1) break;
      this.takeLine(text.slice(start, end), out);
      start = end + 1;
    }
    this.pending = text.slice(start);
    return out;
  }

  /** Flushes the last line, which real files often leave without a newline. */
  end(out: TextRow[] = []): TextRow[] {
    if (this.pending.length > 0) this.takeLine(this.pending, out);
    this.pending = '';
    if (this.openRow !== null) {
      // An unterminated quote: hand the row over as it is so the format rejects it with its line number.
      out.push({ line: this.openRow.line, text: this.openRow.text, fields: [this.openRow.text] });
      this.openRow = null;
    }
    return out;
  }

  private takeLine(rawLine: string, out: TextRow[]): void {
    this.linesSeen++;
    const line = rawLine.length > 0 && rawLine.charCodeAt(rawLine.length - 1) === 13 ? rawLine.slice(0, -1) : rawLine;
    if (this.openRow !== null) {
      const joined = this.openRow.text + '\n' + line;
      const fields = parseQuotedRow(joined);
      if (fields === null) this.openRow.text = joined;
      else {
        out.push({ line: this.openRow.line, text: joined, fields });
        this.openRow = null;
      }
      return;
    }
    if (line.length === 0) return;
    if (this.mode === 'lines') {
      out.push({ line: this.linesSeen, text: line, fields: [line] });
      return;
    }
    if (line.indexOf('"') === -1) {
      out.push({ line: this.linesSeen, text: line, fields: line.split(',') });
      return;
    }
    const fields = parseQuotedRow(line);
    if (fields === null) this.openRow = { text: line, line: this.linesSeen };
    else out.push({ line: this.linesSeen, text: line, fields });
  }
}

/** Parses one row that contains quotes; null when a quoted field is still open at the end. */
export function parseQuotedRow(row: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  const n = row.length;
  for (;;) {
    if (i < n && row.charCodeAt(i) === 34) {
      let value = '';
      let from = i + 1;
      for (;;) {
        const quote = row.indexOf('"', from);
        if (quote === -1) return null;
        if (row.charCodeAt(quote + 1) === 34) {
          value += row.slice(from, quote + 1);
          from = quote + 2;
          continue;
        }
        value += row.slice(from, quote);
        i = quote + 1;
        break;
      }
      // Be lenient with text after a closing quote (`"a"b,`): keep it rather than lose the row.
      const comma = row.indexOf(',', i);
      const stop = comma === -1 ? n : comma;
      value += row.slice(i, stop);
      fields.push(value);
      if (comma === -1) return fields;
      i = comma + 1;
    } else {
      const comma = row.indexOf(',', i);
      if (comma === -1) {
        fields.push(row.slice(i));
        return fields;
      }
      fields.push(row.slice(i, comma));
      i = comma + 1;
    }
  }
}

/** Reads a text stream as rows, one array per chunk, keeping memory to one chunk plus one row. */
export async function* readTextRows(stream: Readable, mode: 'csv' | 'lines'): AsyncGenerator<TextRow[]> {
  const splitter = new TextRowSplitter(mode);
  stream.setEncoding('utf8');
  for await (const chunk of stream) {
    const rows = splitter.push(chunk as string);
    if (rows.length > 0) yield rows;
  }
  const last = splitter.end();
  if (last.length > 0) yield last;
}
