import { csvField, csvLine } from './csv';

describe('console CSV export', () => {
  it('writes plain values as they are, and null or undefined as empty', () => {
    expect(csvLine(['u42', null, '2026-01-02T03:04:05.000Z', undefined, 7])).toBe('u42,,2026-01-02T03:04:05.000Z,,7');
  });

  it('quotes fields with commas, quotes and line breaks, doubling inner quotes', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
  });

  it('neutralises cells a spreadsheet would run as formulas with a leading quote', () => {
    expect(csvField('=1+1')).toBe("'=1+1");
    expect(csvField('+SUM(A1:A9)')).toBe("'+SUM(A1:A9)");
    expect(csvField('-2+3')).toBe("'-2+3");
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('\tcmd')).toBe("'\tcmd");
    expect(csvField('\r=1')).toBe(`"'\r=1"`);
    // Neutralised and quoted: the comma and quotes of a HYPERLINK formula.
    expect(csvField('=HYPERLINK("http://evil.example","x")')).toBe(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    // Only the first character matters.
    expect(csvField('a=b')).toBe('a=b');
    expect(csvField('u-1@shop')).toBe('u-1@shop');
  });
});
