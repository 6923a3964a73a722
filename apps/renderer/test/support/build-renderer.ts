import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildInto, repoRoot } from '../../../../test/support/build';

/**
 * Builds the renderer as `npm run build:renderer` does, into a temp dir (see `buildInto`). It
 * compiles against the built library, as a user's app would: `npm run build` must have run.
 */
export function buildRendererInto(label: string): string {
  if (!existsSync(join(repoRoot, 'dist', 'index.js'))) {
    throw new Error(
      'The renderer builds against the built library: run `npm run build` at the repository root first (`npm test` does).',
    );
  }
  return buildInto(label, 'apps/renderer/tsconfig.build.json');
}
