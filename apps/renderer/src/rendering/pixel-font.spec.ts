import fc from 'fast-check';
import { fonts } from 'js-pixel-fonts';
import { DESCENDER_DEPTH, LINE_HEIGHT, measureText, textPixels } from './pixel-font';

const FONT_CHARACTERS = Object.keys(fonts.sevenPlus.glyphs).filter((key) => key.length === 1);

/** `rows` as strings of '#' and '.', so a failing comparison shows the glyphs. */
function picture(rows: readonly (readonly number[])[]): string[] {
  return rows.map((row) => row.map((pixel) => (pixel ? '#' : '.')).join(''));
}

describe('LINE_HEIGHT and DESCENDER_DEPTH', () => {
  it('are the 7 px line of Seven Plus and its 2 px descenders', () => {
    expect(LINE_HEIGHT).toBe(7);
    expect(DESCENDER_DEPTH).toBe(2);
  });
});

describe('textPixels', () => {
  it("draws a glyph from the package's data", () => {
    expect(textPixels('A')).toEqual(fonts.sevenPlus.glyphs.A.pixels);
    expect(picture(textPixels('A'))).toEqual([
      '.###.',
      '#...#',
      '#...#',
      '#####',
      '#...#',
      '#...#',
      '#...#',
    ]);
  });

  it('has no rows for the empty string', () => {
    expect(textPixels('')).toEqual([]);
  });

  it('pads short glyphs to LINE_HEIGHT rows', () => {
    expect(textPixels('-')).toHaveLength(LINE_HEIGHT);
    expect(textPixels('.')).toHaveLength(LINE_HEIGHT);
    expect(picture(textPixels('-'))).toEqual(['...', '...', '...', '###', '...', '...', '...']);
  });

  it('adds rows below the line only for descenders', () => {
    expect(textPixels('HELLO 123')).toHaveLength(LINE_HEIGHT);
    expect(textPixels('gap')).toHaveLength(LINE_HEIGHT + DESCENDER_DEPTH);
    expect(textPixels('a, b')).toHaveLength(LINE_HEIGHT + 1);
    const [lastRow] = textPixels('g').slice(-1);
    expect(lastRow).toContain(1);
  });

  it('draws a space as blank columns', () => {
    const space = textPixels(' ');
    expect(space).toHaveLength(LINE_HEIGHT);
    expect(space.flat()).not.toContain(1);
    expect(measureText(' ')).toBe(3);
    expect(measureText('   ')).toBe(9);
  });

  it('makes every row as wide as the text', () => {
    const everything = FONT_CHARACTERS.join('');
    const rows = textPixels(everything);
    expect(new Set(rows.map((row) => row.length))).toEqual(new Set([measureText(everything)]));
  });

  describe('characters the font lacks', () => {
    it.each(['é', 'ß', '€', '\t', '\u0000', '\u00a0'])('draws %j as "?"', (character) => {
      expect(textPixels(character)).toEqual(textPixels('?'));
      expect(textPixels(`a${character}b`)).toEqual(textPixels('a?b'));
    });

    it('draws one "?" per code point, even outside the BMP', () => {
      expect(textPixels('😀')).toEqual(textPixels('?'));
      expect(textPixels('x😀y')).toEqual(textPixels('x?y'));
    });

    it('keeps a newline on the same line, as "?"', () => {
      expect(textPixels('a\nb')).toEqual(textPixels('a?b'));
      expect(textPixels('a\r\nb')).toEqual(textPixels('a??b'));
    });

    it("never draws the package's solid fallback block", () => {
      const solidBlock = textPixels('é').every((row) => row.every((pixel) => pixel === 1));
      expect(solidBlock).toBe(false);
    });
  });

  it('draws any string as 0/1 rows of one width, without throwing', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), (text) => {
        const rows = textPixels(text);
        const width = measureText(text);
        if (text === '') expect(rows).toEqual([]);
        else {
          expect(rows.length).toBeGreaterThanOrEqual(LINE_HEIGHT);
          expect(rows.length).toBeLessThanOrEqual(LINE_HEIGHT + DESCENDER_DEPTH);
        }
        for (const row of rows) {
          expect(row).toHaveLength(width);
          for (const pixel of row) expect(pixel === 0 || pixel === 1).toBe(true);
        }
      }),
    );
  });
});

describe('measureText', () => {
  it('is 0 for the empty string', () => {
    expect(measureText('')).toBe(0);
  });

  it('adds a 1 px gap only between glyphs that would touch', () => {
    expect(measureText('0')).toBe(4);
    expect(measureText('A')).toBe(5);
    expect(measureText('HI')).toBe(5 + 1 + 5);
    expect(measureText('a b')).toBe(4 + 3 + 4);
  });

  it('is the width textPixels draws', () => {
    for (const text of ['12:34', 'Hello, world!', 'gypsy', '?']) {
      expect(measureText(text)).toBe(textPixels(text)[0].length);
    }
  });
});
