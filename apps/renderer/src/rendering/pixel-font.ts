import { fonts, renderPixels } from 'js-pixel-fonts';
import type { Font, Pixel } from 'js-pixel-fonts';

// Seven Plus: 7 px capitals and digits, variable-width lower case; legible on a 64x32 display.
const FONT: Font = fonts.sevenPlus;

/** Height of a line of capitals and digits (7 px); descenders reach `DESCENDER_DEPTH` below it. */
export const LINE_HEIGHT = FONT.lineHeight;

/** How far descenders reach below `LINE_HEIGHT`: 2 px for g j p q y (1 px for , ;). */
export const DESCENDER_DEPTH = Math.max(
  0,
  ...Object.values(FONT.glyphs).map((glyph) => glyph.offset + glyph.pixels.length - LINE_HEIGHT),
);

function hasGlyph(character: string): boolean {
  return Object.hasOwn(FONT.glyphs, character);
}

// Seven Plus has '?', so a character it lacks is drawn as '?' (a font without '?' would drop it).
// Left to itself the package draws a solid 5x7 block and logs "Missing letter" on every call.
const UNKNOWN_CHARACTER_REPLACEMENT = hasGlyph('?') ? '?' : '';

/**
 * `text` with every code point the font lacks replaced, one for one (an emoji is one '?', not two).
 * Newlines and other control characters are unknown too, so the text always stays on one line.
 */
function toDrawableText(text: string): string {
  let drawable = '';
  for (const character of text) {
    drawable += hasGlyph(character) ? character : UNKNOWN_CHARACTER_REPLACEMENT;
  }
  return drawable;
}

/**
 * `text` as rows of pixels (1 = ink), all rows equally wide: `LINE_HEIGHT` rows, or more when a
 * glyph descends below the line; no rows at all for the empty string.
 */
export function textPixels(text: string): Pixel[][] {
  const rows = renderPixels(toDrawableText(text), FONT);
  if (rows.length === 0) return rows;
  // The package returns only as many rows as the glyphs use ("-" is 4 rows, " " is 1).
  const width = rows[0].length;
  while (rows.length < LINE_HEIGHT) rows.push(new Array<Pixel>(width).fill(0));
  return rows;
}

/** Width of `text` in pixels, with the font's spacing between touching glyphs; 0 for ''. */
export function measureText(text: string): number {
  return textPixels(text)[0]?.length ?? 0;
}
