import { PNG } from 'pngjs';
import { textPixels } from './pixel-font';

/** Size of a Tidbyt-style LED display, in pixels. */
export const DISPLAY_WIDTH = 64;
export const DISPLAY_HEIGHT = 32;

/** Largest width or height a frame accepts: far above any display, small enough to stay cheap. */
const MAX_FRAME_SIZE = 1024;

/** Red, green, blue: integers from 0 to 255. */
export type Rgb = readonly [number, number, number];

const CHANNELS = 3;

/** Rows of pixels from the font, 1 where there is ink. */
type TextRows = ReturnType<typeof textPixels>;

/**
 * An RGB image the size of a display. Drawing outside it is clipped, never an error, so apps can
 * draw text that runs off the edge.
 */
export class Frame {
  readonly width: number;
  readonly height: number;
  private readonly pixels: Uint8Array;

  constructor(width = DISPLAY_WIDTH, height = DISPLAY_HEIGHT, background: Rgb = [0, 0, 0]) {
    assertFrameSize('width', width);
    assertFrameSize('height', height);
    assertRgb('background', background);
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * CHANNELS);
    this.fillRect(0, 0, width, height, background);
  }

  /** Colours the pixel at (x, y), coordinates floored; does nothing outside the frame. */
  setPixel(x: number, y: number, color: Rgb): void {
    assertRgb('color', color);
    this.paint(Math.floor(x), Math.floor(y), color);
  }

  /** The colour at (x, y), coordinates floored; throws `RangeError` outside the frame. */
  getPixel(x: number, y: number): Rgb {
    const column = Math.floor(x);
    const row = Math.floor(y);
    if (!(column >= 0 && column < this.width)) {
      throw new RangeError(`x must be from 0 to ${this.width - 1}, got ${x}`);
    }
    if (!(row >= 0 && row < this.height)) {
      throw new RangeError(`y must be from 0 to ${this.height - 1}, got ${y}`);
    }
    const offset = this.offsetOf(column, row);
    return [this.pixels[offset], this.pixels[offset + 1], this.pixels[offset + 2]];
  }

  /** Colours the `w` x `h` rectangle whose top-left corner is (x, y), clipped to the frame. */
  fillRect(x: number, y: number, w: number, h: number, color: Rgb): void {
    assertRgb('color', color);
    const [left, right] = clipSpan(x, w, this.width);
    const [top, bottom] = clipSpan(y, h, this.height);
    for (let row = top; row < bottom; row++) {
      for (let column = left; column < right; column++) this.paint(column, row, color);
    }
  }

  /**
   * Draws `text` in the pixel font with its top-left corner at (x, y), clipped to the frame.
   * Returns the text's full width in pixels, including any part clipped off.
   */
  drawText(text: string, x: number, y: number, color: Rgb): number {
    assertRgb('color', color);
    const rows = textPixels(text);
    this.drawInk(rows, Math.floor(x), Math.floor(y), color);
    return widthOf(rows);
  }

  /** Draws `text` centred horizontally with its top at `y`; wider text starts at the left edge. */
  drawTextCentered(text: string, y: number, color: Rgb): void {
    assertRgb('color', color);
    const rows = textPixels(text);
    const left = Math.max(0, Math.floor((this.width - widthOf(rows)) / 2));
    this.drawInk(rows, left, Math.floor(y), color);
  }

  /** The frame as an 8-bit RGB PNG. */
  toPng(): Buffer {
    return encodeRgbPng(this.width, this.height, this.pixels);
  }

  private drawInk(rows: TextRows, left: number, top: number, color: Rgb): void {
    rows.forEach((row, dy) => {
      row.forEach((ink, dx) => {
        if (ink) this.paint(left + dx, top + dy, color);
      });
    });
  }

  // Bounds-checked here, per pixel, so text running off the right edge never wraps to the next row.
  private paint(column: number, row: number, color: Rgb): void {
    if (!(column >= 0 && column < this.width && row >= 0 && row < this.height)) return;
    this.pixels.set(color, this.offsetOf(column, row));
  }

  private offsetOf(column: number, row: number): number {
    return (row * this.width + column) * CHANNELS;
  }
}

function widthOf(rows: TextRows): number {
  return rows[0]?.length ?? 0;
}

function assertFrameSize(name: 'width' | 'height', size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_FRAME_SIZE) {
    throw new RangeError(
      `${name} must be an integer from 1 to ${MAX_FRAME_SIZE}, got ${String(size)}`,
    );
  }
}

// Checked at run time too: colours often come from options parsed out of a query string.
function assertRgb(name: string, color: unknown): asserts color is Rgb {
  if (!Array.isArray(color) || color.length !== CHANNELS) {
    const got = Array.isArray(color) ? `${color.length} values` : typeof color;
    throw new RangeError(`${name} must be [red, green, blue], got ${got}`);
  }
  color.forEach((component: unknown, index) => {
    if (
      typeof component !== 'number' ||
      !Number.isInteger(component) ||
      component < 0 ||
      component > 255
    ) {
      throw new RangeError(
        `${name}[${index}] must be an integer from 0 to 255, got ${String(component)}`,
      );
    }
  });
}

/** The pixel indexes [from, to) a span covers inside [0, limit); empty when it misses. */
function clipSpan(start: number, length: number, limit: number): [number, number] {
  const first = Math.floor(start);
  const from = Math.max(0, first);
  const to = Math.min(limit, first + Math.floor(length));
  return Number.isFinite(from) && Number.isFinite(to) ? [from, to] : [0, 0];
}

/** An 8-bit RGB PNG (pngjs; fast-png ships only as an ES module, which Jest on Node 20 cannot load). */
function encodeRgbPng(width: number, height: number, rgb: Uint8Array): Buffer {
  const image = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  image.data = Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength);
  return PNG.sync.write(image, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
}
