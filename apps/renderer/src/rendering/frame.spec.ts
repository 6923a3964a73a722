import fc from 'fast-check';
// pngjs decodes here, the same library that encodes: the test checks pixels, and pngjs checks every CRC.
import { PNG } from 'pngjs';
import { DISPLAY_HEIGHT, DISPLAY_WIDTH, Frame } from './frame';
import type { Rgb } from './frame';
import { DESCENDER_DEPTH, LINE_HEIGHT, measureText, textPixels } from './pixel-font';

const BLACK: Rgb = [0, 0, 0];
const RED: Rgb = [255, 0, 0];
const NAVY: Rgb = [0, 0, 128];
const AMBER: Rgb = [255, 200, 80];

type Point = readonly [x: number, y: number];

/** Every pixel of `frame`, row by row, as "r,g,b". */
function pixelsOf(frame: Frame): string[][] {
  return Array.from({ length: frame.height }, (_, y) =>
    Array.from({ length: frame.width }, (_, x) => frame.getPixel(x, y).join(',')),
  );
}

/** The points whose colour differs between two pictures of the same frame. */
function changedPoints(before: string[][], after: string[][]): Point[] {
  const changed: Point[] = [];
  before.forEach((row, y) =>
    row.forEach((pixel, x) => {
      if (pixel !== after[y][x]) changed.push([x, y]);
    }),
  );
  return changed;
}

/** The points `draw` changes on a fresh frame. */
function pointsChangedBy(draw: (frame: Frame) => void, frame = new Frame()): Point[] {
  const before = pixelsOf(frame);
  draw(frame);
  return changedPoints(before, pixelsOf(frame));
}

function isInside([x, y]: Point, left: number, top: number, width: number, height: number) {
  return x >= left && x < left + width && y >= top && y < top + height;
}

/** The colour at (x, y) of a decoded PNG (pngjs hands back RGBA). */
function pngPixel(png: PNG, x: number, y: number): number[] {
  const offset = (y * png.width + x) * 4;
  return [...png.data.subarray(offset, offset + 4)];
}

describe('Frame', () => {
  describe('constructor', () => {
    it('is the size of the display, black by default', () => {
      const frame = new Frame();
      expect([frame.width, frame.height]).toEqual([DISPLAY_WIDTH, DISPLAY_HEIGHT]);
      expect([DISPLAY_WIDTH, DISPLAY_HEIGHT]).toEqual([64, 32]);
      expect(new Set(pixelsOf(frame).flat())).toEqual(new Set(['0,0,0']));
    });

    it('fills the background colour', () => {
      const frame = new Frame(3, 2, NAVY);
      expect([frame.width, frame.height]).toEqual([3, 2]);
      expect(new Set(pixelsOf(frame).flat())).toEqual(new Set(['0,0,128']));
    });

    it('accepts sizes from 1 to 1024', () => {
      expect(() => new Frame(1, 1)).not.toThrow();
      expect(() => new Frame(1024, 1)).not.toThrow();
      expect(() => new Frame(1, 1024)).not.toThrow();
    });

    it.each([0, -1, 1.5, 1025, Number.NaN, Number.POSITIVE_INFINITY])(
      'rejects width and height %p with a RangeError naming them',
      (size) => {
        expect(() => new Frame(size, 32)).toThrow(RangeError);
        expect(() => new Frame(size, 32)).toThrow(/^width must be an integer from 1 to 1024/);
        expect(() => new Frame(64, size)).toThrow(/^height must be an integer from 1 to 1024/);
      },
    );

    it.each<[string, unknown]>([
      ['a component over 255', [256, 0, 0]],
      ['a negative component', [0, -1, 0]],
      ['a fraction', [0, 0, 0.5]],
      ['NaN', [0, Number.NaN, 0]],
      ['a string component', ['255', 0, 0]],
      ['two components', [0, 0]],
      ['four components', [0, 0, 0, 0]],
      ['a hex string', '#ff0000'],
    ])('rejects a background with %s, naming it', (_, background) => {
      expect(() => new Frame(64, 32, background as Rgb)).toThrow(RangeError);
      expect(() => new Frame(64, 32, background as Rgb)).toThrow(/^background/);
    });
  });

  describe('setPixel and getPixel', () => {
    it('set and read one pixel', () => {
      const frame = new Frame();
      frame.setPixel(5, 7, AMBER);
      expect(frame.getPixel(5, 7)).toEqual(AMBER);
      expect(frame.getPixel(6, 7)).toEqual(BLACK);
      expect(frame.getPixel(5, 8)).toEqual(BLACK);
    });

    it('floor fractional coordinates', () => {
      const frame = new Frame();
      frame.setPixel(2.9, 3.2, RED);
      expect(frame.getPixel(2, 3)).toEqual(RED);
      expect(frame.getPixel(2.5, 3.99)).toEqual(RED);
    });

    it.each<Point>([
      [-1, 0],
      [0, -1],
      [64, 0],
      [0, 32],
      [-0.5, 0],
      [Number.NaN, 0],
      [Number.POSITIVE_INFINITY, 0],
    ])('setPixel ignores (%p, %p), outside the frame', (x, y) => {
      expect(pointsChangedBy((frame) => frame.setPixel(x, y, RED))).toEqual([]);
    });

    it('getPixel throws a RangeError outside the frame', () => {
      const frame = new Frame();
      expect(() => frame.getPixel(64, 0)).toThrow(/^x must be from 0 to 63/);
      expect(() => frame.getPixel(0, -1)).toThrow(/^y must be from 0 to 31/);
    });

    it('setPixel rejects a bad colour, naming it', () => {
      const frame = new Frame();
      expect(() => frame.setPixel(0, 0, [0, 300, 0])).toThrow(RangeError);
      expect(() => frame.setPixel(0, 0, [0, 300, 0])).toThrow(/^color\[1\] must be an integer/);
    });
  });

  describe('fillRect', () => {
    it('fills exactly the rectangle', () => {
      const changed = pointsChangedBy((frame) => frame.fillRect(10, 5, 3, 2, RED));
      expect(changed).toEqual([
        [10, 5],
        [11, 5],
        [12, 5],
        [10, 6],
        [11, 6],
        [12, 6],
      ]);
    });

    it('clips at every edge', () => {
      const frame = new Frame();
      const changed = pointsChangedBy((f) => f.fillRect(-2, 30, 4, 10, RED), frame);
      expect(changed).toEqual([
        [0, 30],
        [1, 30],
        [0, 31],
        [1, 31],
      ]);
      expect(pointsChangedBy((f) => f.fillRect(62, -5, 10, 6, RED))).toHaveLength(2);
    });

    it.each([
      [0, 0, 0, 5],
      [0, 0, 5, -1],
      [64, 0, 5, 5],
      [Number.NaN, 0, 5, 5],
    ])('draws nothing for (%p, %p, %p, %p)', (x, y, w, h) => {
      expect(pointsChangedBy((frame) => frame.fillRect(x, y, w, h, RED))).toEqual([]);
    });

    it('rejects a bad colour, naming it', () => {
      expect(() => new Frame().fillRect(0, 0, 1, 1, [0, 0, -1])).toThrow(/^color\[2\]/);
    });
  });

  describe('drawText', () => {
    it('draws the font pixels, top-left at (x, y)', () => {
      const frame = new Frame(64, 32, NAVY);
      frame.drawText('A', 3, 4, AMBER);
      textPixels('A').forEach((row, dy) =>
        row.forEach((ink, dx) => {
          expect(frame.getPixel(3 + dx, 4 + dy)).toEqual(ink ? AMBER : NAVY);
        }),
      );
    });

    it('returns the width of the text', () => {
      const frame = new Frame();
      expect(frame.drawText('12:34', 0, 0, RED)).toBe(measureText('12:34'));
      expect(frame.drawText('', 0, 0, RED)).toBe(0);
      expect(frame.drawText('WWWWWWWWWWWWWWWWWWWW', 0, 0, RED)).toBe(measureText('W'.repeat(20)));
    });

    it('changes pixels only inside the box measureText x LINE_HEIGHT', () => {
      const text = 'Hi! 42';
      const changed = pointsChangedBy((frame) => frame.drawText(text, 7, 9, RED));
      expect(changed.length).toBeGreaterThan(0);
      expect(changed.filter((p) => !isInside(p, 7, 9, measureText(text), LINE_HEIGHT))).toEqual([]);
      // The box is tight: ink reaches its last column and its last row.
      expect(Math.max(...changed.map(([x]) => x))).toBe(7 + measureText(text) - 1);
      expect(Math.max(...changed.map(([, y]) => y))).toBe(9 + LINE_HEIGHT - 1);
    });

    it('draws descenders up to DESCENDER_DEPTH below the line', () => {
      const changed = pointsChangedBy((frame) => frame.drawText('gypsy', 0, 0, RED));
      expect(Math.max(...changed.map(([, y]) => y))).toBe(LINE_HEIGHT + DESCENDER_DEPTH - 1);
    });

    it('clips at the right edge without wrapping to the next row', () => {
      const text = 'WIDE TEXT RUNS OFF';
      let width = 0;
      const changed = pointsChangedBy((frame) => {
        width = frame.drawText(text, 60, 0, RED);
      });
      expect(width).toBeGreaterThan(4);
      expect(changed.length).toBeGreaterThan(0);
      expect(changed.filter(([x, y]) => x < 60 || y >= LINE_HEIGHT)).toEqual([]);
    });

    it('clips at the bottom edge', () => {
      const changed = pointsChangedBy((frame) => frame.drawText('gjpqy', 0, 28, RED));
      expect(changed.length).toBeGreaterThan(0);
      expect(changed.filter(([, y]) => y < 28)).toEqual([]);
    });

    it('clips at the left and top edges, keeping the visible part in place', () => {
      const whole = new Frame();
      whole.drawText('HELLO', 0, 0, RED);
      const clipped = new Frame();
      clipped.drawText('HELLO', -3, -2, RED);
      for (let y = 0; y < LINE_HEIGHT - 2; y++) {
        for (let x = 0; x < measureText('HELLO') - 3; x++) {
          expect(clipped.getPixel(x, y)).toEqual(whole.getPixel(x + 3, y + 2));
        }
      }
    });

    it('draws text entirely off the frame as nothing', () => {
      for (const [x, y] of [
        [64, 0],
        [-100, 0],
        [0, 32],
        [0, -20],
      ]) {
        expect(pointsChangedBy((frame) => frame.drawText('HELLO', x, y, RED))).toEqual([]);
      }
    });

    it('draws a character the font lacks as "?"', () => {
      const unknown = new Frame();
      unknown.drawText('é', 0, 0, RED);
      const question = new Frame();
      question.drawText('?', 0, 0, RED);
      expect(pixelsOf(unknown)).toEqual(pixelsOf(question));
    });

    it('rejects a bad colour, naming it', () => {
      expect(() => new Frame().drawText('A', 0, 0, [1, 2] as unknown as Rgb)).toThrow(
        /^color must be \[red, green, blue\], got 2 values/,
      );
    });

    it('never throws and never draws outside the text box, for any text and position', () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.string(), fc.string({ unit: 'binary' })),
          fc.integer({ min: -80, max: 80 }),
          fc.integer({ min: -40, max: 40 }),
          (text, x, y) => {
            let width = -1;
            const changed = pointsChangedBy((frame) => {
              width = frame.drawText(text, x, y, RED);
            });
            expect(width).toBe(measureText(text));
            const boxHeight = LINE_HEIGHT + DESCENDER_DEPTH;
            expect(changed.filter((p) => !isInside(p, x, y, width, boxHeight))).toEqual([]);
          },
        ),
      );
    });
  });

  describe('drawTextCentered', () => {
    it.each(['12:34', 'MON 3 JUN', 'A', 'AB', 'Hello', '', ' x '])(
      'puts %j as far from the left edge as from the right (±1)',
      (text) => {
        const frame = new Frame();
        const changed = pointsChangedBy((f) => f.drawTextCentered(text, 5, RED), frame);
        if (text.trim() === '') return expect(changed).toEqual([]);
        // The ink of the same text drawn at x = 0 tells where the box starts.
        const atZero = pointsChangedBy((f) => f.drawText(text, 0, 5, RED));
        const left = Math.min(...changed.map(([x]) => x)) - Math.min(...atZero.map(([x]) => x));
        const right = DISPLAY_WIDTH - left - measureText(text);
        expect(Math.abs(left - right)).toBeLessThanOrEqual(1);
        expect(changed.map(([x, y]) => [x - left, y])).toEqual(atZero);
      },
    );

    it('draws at the given y', () => {
      const changed = pointsChangedBy((frame) => frame.drawTextCentered('TOP', 20, RED));
      expect(Math.min(...changed.map(([, y]) => y))).toBe(20);
      expect(Math.max(...changed.map(([, y]) => y))).toBe(20 + LINE_HEIGHT - 1);
    });

    it('starts text wider than the frame at the left edge', () => {
      const text = 'MUCH TOO WIDE FOR THE DISPLAY';
      expect(measureText(text)).toBeGreaterThan(DISPLAY_WIDTH);
      const centred = new Frame();
      centred.drawTextCentered(text, 0, RED);
      const leftAligned = new Frame();
      leftAligned.drawText(text, 0, 0, RED);
      expect(pixelsOf(centred)).toEqual(pixelsOf(leftAligned));
    });

    it('rejects a bad colour, naming it', () => {
      expect(() => new Frame().drawTextCentered('A', 0, [0, 0, 256])).toThrow(/^color\[2\]/);
    });
  });

  describe('toPng', () => {
    it('encodes the frame as a 64x32 8-bit RGB PNG', () => {
      const frame = new Frame(DISPLAY_WIDTH, DISPLAY_HEIGHT, NAVY);
      frame.drawText('A', 10, 10, AMBER);
      const png = frame.toPng();
      expect(Buffer.isBuffer(png)).toBe(true);
      // IHDR: width and height at 16 and 20, bit depth 8 at 24, colour type 2 (RGB) at 25.
      expect(png.subarray(12, 16).toString('latin1')).toBe('IHDR');
      expect([png.readUInt32BE(16), png.readUInt32BE(20), png[24], png[25]]).toEqual([
        64, 32, 8, 2,
      ]);

      const decoded = PNG.sync.read(png);
      expect([decoded.width, decoded.height]).toEqual([64, 32]);
      expect(pngPixel(decoded, 0, 0)).toEqual([...NAVY, 255]);
      expect(pngPixel(decoded, 63, 31)).toEqual([...NAVY, 255]);
      // 'A' has ink in the middle of its top row and none in its top-left corner.
      expect(pngPixel(decoded, 12, 10)).toEqual([...AMBER, 255]);
      expect(pngPixel(decoded, 10, 10)).toEqual([...NAVY, 255]);
    });

    it('round-trips every pixel', () => {
      const frame = new Frame(7, 5);
      for (let y = 0; y < 5; y++) {
        for (let x = 0; x < 7; x++) frame.setPixel(x, y, [x * 36, y * 60, (x * y * 7) % 256]);
      }
      const decoded = PNG.sync.read(frame.toPng());
      expect([decoded.width, decoded.height]).toEqual([7, 5]);
      for (let y = 0; y < 5; y++) {
        for (let x = 0; x < 7; x++) {
          expect(pngPixel(decoded, x, y)).toEqual([...frame.getPixel(x, y), 255]);
        }
      }
    });
  });
});
