import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '..', '..');

/**
 * Builds `project` (the library's `tsconfig.build.json` unless told otherwise) as `npm run build`
 * does, into a fresh temp dir inside the repo (so the build finds node_modules), never touching
 * dist/. Returns the directory; the caller removes it.
 */
export function buildInto(label: string, project = 'tsconfig.build.json'): string {
  // Beside the project's own node_modules, so the build finds the packages only it depends on.
  const cache = join(repoRoot, dirname(project), 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  const outDir = mkdtempSync(join(cache, `${label}-`));
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', project, '--outDir', outDir],
    { cwd: repoRoot, stdio: 'pipe' },
  );
  return outDir;
}
