import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..', '..');

/**
 * Builds exactly as `npm run build` does, into a fresh temp dir inside the repo (so the build finds
 * node_modules), never touching dist/. Returns the directory; the caller removes it.
 */
export function buildInto(label: string): string {
  const cache = join(repoRoot, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const outDir = mkdtempSync(join(cache, `${label}-`));
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir],
    { cwd: repoRoot, stdio: 'pipe' },
  );
  return outDir;
}
