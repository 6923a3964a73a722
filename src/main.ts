// The renderer service: `npm start` (after `npm ci`). Settings come from the environment (README).
import { startRenderer } from './renderer/renderer.app';

void startRenderer();
