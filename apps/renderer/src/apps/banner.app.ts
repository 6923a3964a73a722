import { Injectable } from '@nestjs/common';
import { Frame, LINE_HEIGHT, measureText } from '../rendering';
import { CatalogApp, badOption } from './catalog-app';
import type { RenderInput, RenderOutput } from './catalog-app';

const MAX_TEXT_LENGTH = 120;
const LINE_GAP = 1;

/** A text, word-wrapped over up to four lines, in a colour. */
@Injectable()
export class BannerApp extends CatalogApp {
  readonly id = 'banner';
  readonly name = 'Text banner';
  readonly description = 'Shows a text, wrapped to fit the display.';
  readonly options = [
    { name: 'text', description: `up to ${MAX_TEXT_LENGTH} characters`, default: 'Hello!' },
    { name: 'color', description: 'RGB colour as 6 hex digits', default: 'ffffff' },
  ] as const;

  protected override validateOption(name: string, value: string): void {
    if (name === 'text' && value.length > MAX_TEXT_LENGTH) {
      throw badOption('text', `at most ${MAX_TEXT_LENGTH} characters, got ${value.length}`);
    }
    if (name === 'color' && !/^[0-9a-f]{6}$/i.test(value)) {
      throw badOption('color', `6 hex digits such as ff8800, got ${JSON.stringify(value)}`);
    }
  }

  render({ options }: RenderInput): Promise<RenderOutput> {
    const frame = new Frame();
    drawWrapped(frame, options.text, hexColor(options.color));
    return Promise.resolve({ frame, ttlSeconds: 300 });
  }
}

/** Word-wraps `text` to the frame's width and draws the lines that fit, centred vertically. */
export function drawWrapped(
  frame: Frame,
  text: string,
  color: readonly [number, number, number],
): void {
  const maxLines = Math.floor((frame.height + LINE_GAP) / (LINE_HEIGHT + LINE_GAP));
  const lines = wrap(text, frame.width).slice(0, maxLines);
  const height = lines.length * (LINE_HEIGHT + LINE_GAP) - LINE_GAP;
  let y = Math.floor((frame.height - height) / 2);
  for (const line of lines) {
    frame.drawTextCentered(line, y, color);
    y += LINE_HEIGHT + LINE_GAP;
  }
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = line ? `${line} ${word}` : word;
    if (measureText(candidate) <= width || !line) line = candidate;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function hexColor(hex: string): readonly [number, number, number] {
  const n = Number.parseInt(hex, 16);
  return [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}
