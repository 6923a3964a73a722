import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths';

export interface EnvironmentInfo {
  date: string;
  cpuModel: string;
  cpuCount: number;
  memoryGiB: number;
  kernel: string;
  orchestratorNode: string;
  nodes: { major: string; version: string }[];
  redis: { version: string; owned: boolean };
  packages: Record<string, string>;
  /** The commit the measured src/ was compiled from, `+dirty` when src/ had local changes. */
  srcCommit?: string;
}

const PACKAGES = [
  '@nestjs/core',
  '@nestjs/platform-fastify',
  '@nestjs/platform-express',
  'fastify',
  'express',
  'ioredis',
  'autocannon',
];

/** The version of an installed package (in `root`'s node_modules), or 'not installed'. */
export function installedVersion(name: string, root = repoRoot): string {
  try {
    const manifest = readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8');
    return (JSON.parse(manifest) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

/** Call before measuring: HEAD may move while a long run goes on. */
export function srcCommit(): string {
  try {
    const git = (args: string[]) =>
      execFileSync('git', args, {
        cwd: repoRoot,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    const commit = git(['rev-parse', '--short', 'HEAD']).trim();
    return git(['status', '--porcelain', '--', 'src']).trim() ? `${commit}+dirty` : commit;
  } catch {
    return 'unknown';
  }
}

export function describeEnvironment(
  nodes: { major: string; version: string }[],
  redis: { version: string; owned: boolean },
  measuredSrcCommit: string,
  /** Where the `@nestjs/*` packages measured come from (the NestJS 12 workspace, say). */
  nestRoot = repoRoot,
): EnvironmentInfo {
  const cpuList = cpus();
  return {
    date: new Date().toISOString(),
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cpuCount: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: `${process.platform} ${release()}`,
    orchestratorNode: process.version,
    nodes: nodes.map(({ major, version }) => ({ major, version })),
    redis,
    packages: Object.fromEntries(
      PACKAGES.map((name) => [
        name,
        installedVersion(name, name.startsWith('@nestjs/') ? nestRoot : repoRoot),
      ]),
    ),
    srcCommit: measuredSrcCommit,
  };
}
