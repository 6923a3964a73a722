import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest folder above this file whose package.json has workspaces. */
function findRoot(start: string): string {
  for (let dir = start; dirname(dir) !== dir; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (!existsSync(manifest)) continue;
    if ('workspaces' in (JSON.parse(readFileSync(manifest, 'utf8')) as object)) return dir;
  }
  throw new Error(`No workspace package.json above ${start}`);
}

export const repoRoot = findRoot(__dirname);

/** Compiled bench scripts, e.g. `benchScript('injection/app.js')`. */
export const benchScript = (relative: string): string => join(__dirname, '..', relative);

/** The NestJS 12 workspace: module resolution from here finds its node_modules first. */
export const NESTJS_12_WORKSPACE = join(repoRoot, 'test', 'nestjs-12');
