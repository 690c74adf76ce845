import { parseQuotedRow, TextRowSplitter, type TextRow } from './csv-reader';

function splitAll(text: string, pieces: string[] = [text]): TextRow[] {
  const splitter = new TextRowSplitter('csv');
  const rows: TextRow[] = [];
  for (const piece of pieces) splitter.push(piece, rows);
  return splitter.end(rows);
}

describe('TextRowSplitter', () => {
  const file = '\ufeffa,b,c\r\n1,"two, with comma","say ""hi"""\r\n\r\n3,"multi\nline",x\n4,,last-without-newline';

  it('reads quotes, doubled quotes, quoted newlines, CRLF, blank lines and a BOM', () => {
    expect(splitAll(file).map((r) => [r.line, r.fields])).toEqual([
      [1, ['a', 'b', 'c']],
      [2, ['1', 'two, with comma', 'say "hi"']],
      [4, ['3', 'multi\nline', 'x']],
      [6, ['4', '', 'last-without-newline']],
    ]);
  });

  it('gives the same rows wherever the chunks happen to break', () => {
    const whole = splitAll(file);
    for (let cut = 1; cut < file.length; cut++) {
      expect(splitAll(file, [file.slice(0, cut), file.slice(cut)])).toEqual(whole);
    }
  });

  it('hands an unterminated quote over whole so the format can reject it', () => {
    expect(splitAll('1,"never closed\n2,3').map((r) => [r.line, r.fields.length])).toEqual([[1, 1]]);
  });
});

describe('parseQuotedRow (csv-parse)', () => {
  it('reads separators, doubled quotes and line breaks inside quotes', () => {
    expect(parseQuotedRow('1,"a, b","say ""hi""",""')).toEqual(['1', 'a, b', 'say "hi"', '']);
    expect(parseQuotedRow('3,"multi\nline",x')).toEqual(['3', 'multi\nline', 'x']);
  });

  it('keeps a stray quote as text rather than dropping the row, and says when a quote is still open', () => {
    expect(parseQuotedRow('"a"b,c')).toEqual(['"a"b', 'c']);
    expect(parseQuotedRow('5,x"y')).toEqual(['5', 'x"y']);
    expect(parseQuotedRow('"open')).toBeNull();
    expect(parseQuotedRow('1,"open\nstill open')).toBeNull();
  });
});
