import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest folder above this file with a package.json. */
function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

export const repoRoot = findRoot(__dirname);

/** Compiled bench scripts, e.g. `benchScript('injection/app.js')`. */
export const benchScript = (relative: string): string => join(__dirname, '..', relative);

/** The NestJS 12 workspace: module resolution from here finds its node_modules first. */
export const NESTJS_12_WORKSPACE = join(repoRoot, 'test', 'nestjs-12');
