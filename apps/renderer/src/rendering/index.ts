export { DISPLAY_HEIGHT, DISPLAY_WIDTH, Frame } from './frame';
export type { Rgb } from './frame';
export { DESCENDER_DEPTH, LINE_HEIGHT, measureText, textPixels } from './pixel-font';
