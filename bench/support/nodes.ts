import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths';

/** A Node binary the benchmark runs its children with. */
export interface NodeRuntime {
  /** The major version asked for: '20' or '24'. */
  readonly major: string;
  readonly binary: string;
  /** `process.version` of that binary, e.g. `v20.20.2`. */
  readonly version: string;
}

export const NODE_MAJORS = ['20', '24'] as const;

function versionOf(binary: string): string {
  return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
}

/** Node 20: this process's binary when it is v20, else the first v20 `node` on PATH. */
function node20(): string {
  if (process.version.startsWith('v20.')) return process.execPath;
  const found = spawnSync('sh', ['-c', 'which -a node'], { encoding: 'utf8' });
  const candidates = found.stdout.split('\n').filter(Boolean);
  const match = candidates.find((binary) => versionOf(binary).startsWith('v20.'));
  if (!match) throw new Error('No Node 20 binary: run the benchmark with the machine’s Node 20');
  return match;
}

/** Node 24 from `scripts/with-node24.sh`, which installs it into .node24/ on first use. */
function node24(): string {
  const script = join(repoRoot, 'scripts', 'with-node24.sh');
  const result = spawnSync('bash', [script, '--print-node'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`${script} --print-node failed (${result.status})`);
  return result.stdout.trim();
}

export function resolveNodes(majors: readonly string[]): NodeRuntime[] {
  return majors.map((major) => {
    const binary = major === '20' ? node20() : major === '24' ? node24() : undefined;
    if (!binary) throw new Error(`Unsupported Node major ${major}`);
    const version = versionOf(binary);
    if (!version.startsWith(`v${major}.`)) {
      throw new Error(`${binary} is ${version}, expected Node ${major}`);
    }
    return { major, binary, version };
  });
}
