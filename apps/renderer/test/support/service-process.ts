import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { repoRoot } from '../../../../test/support/build';

/** The built renderer (`node main.js`) running as its own process, as `npm start` runs it. */
export interface ServiceProcess {
  child: ChildProcess;
  port: number;
  exited: Promise<number | null>;
  /** Every line it printed, stdout and stderr. */
  output: string[];
}

/** Starts the built `main.js` with `env` (and PATH only); resolves once it logs where it listens. */
export function startService(mainJs: string, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, [mainJs], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return new Promise((resolveStart, reject) => {
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        const port = /Listening on http:\/\/[^:]+:(\d+)/.exec(line)?.[1];
        if (port) resolveStart({ child, port: Number(port), exited, output });
      });
    }
    void exited.then((code) =>
      reject(new Error(`the service exited (${code}) before listening:\n${output.join('\n')}`)),
    );
  });
}
