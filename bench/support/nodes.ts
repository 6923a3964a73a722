import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths';

/** A Node binary the benchmark runs its children with: major '20', version `v20.20.2`, say. */
export interface NodeRuntime {
  readonly major: string;
  readonly binary: string;
  readonly version: string;
}

export const NODE_MAJORS = ['20', '22', '24'] as const;

function versionOf(binary: string): string {
  return execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
}

/** Node 20: this process's binary when it is v20, else the first v20 `node` on PATH. */
function node20(): string {
  if (process.version.startsWith('v20.')) return process.execPath;
  const onPath = spawnSync('sh', ['-c', 'which -a node'], { encoding: 'utf8' }).stdout;
  const match = onPath.split('\n').find((binary) => binary && versionOf(binary).startsWith('v20.'));
  if (!match) throw new Error('No Node 20 binary: run the benchmark with the machine’s Node 20');
  return match;
}

/** Node 22 or 24 from `scripts/with-node.sh`, which installs it into .node/<major>/ on first use. */
function fromRegistry(major: string): string {
  const script = join(repoRoot, 'scripts', 'with-node.sh');
  const result = spawnSync('bash', [script, major, '--print-node'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new Error(`${script} ${major} --print-node: ${result.status}`);
  return result.stdout.trim();
}

export function resolveNodes(majors: readonly string[]): NodeRuntime[] {
  return majors.map((major) => {
    if (!(NODE_MAJORS as readonly string[]).includes(major)) {
      throw new Error(`Unsupported Node major ${major}: use ${NODE_MAJORS.join(', ')}`);
    }
    const binary = major === '20' ? node20() : fromRegistry(major);
    const version = versionOf(binary);
    if (!version.startsWith(`v${major}.`)) {
      throw new Error(`${binary} is ${version}, expected Node ${major}`);
    }
    return { major, binary, version };
  });
}
