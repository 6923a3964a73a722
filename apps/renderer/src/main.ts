// The renderer service: `npm start` (after `npm ci`). Settings come from the environment (README).
// Tracing first: it must patch http, Nest and ioredis before they are loaded.
import { tracing } from './tracing';
import { startRenderer } from './renderer.app';

void startRenderer(process.env, tracing);
