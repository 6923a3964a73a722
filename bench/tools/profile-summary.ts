// Summarises a V8 .cpuprofile (from node --cpu-prof): where the self time goes, by function and
// by file or package, and optionally who calls a function.
// Usage: node bench/dist/bench/tools/profile-summary.js FILE.cpuprofile [topN] [--callers NAME]
//   [--requests N]: also show µs of self time per request (N requests served while profiled)
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { markdownTable } from '../support/stats';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** `node_modules/@nestjs/core/…` → `@nestjs/core`; `src/…` paths kept; node internals grouped. */
function bucketOf(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native/builtin)';
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const modules = url.lastIndexOf('node_modules/');
  if (modules >= 0) {
    const parts = url.slice(modules + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  const inRepo = /\/(src|bench|test)\/.*$/.exec(url.replace(/^file:\/\//, ''));
  return inRepo ? inRepo[0].slice(1).replace(/^bench\/dist\//, '') : url;
}

const labelOf = ({ functionName, url, lineNumber }: ProfileNode['callFrame']) =>
  `${functionName || '(anonymous)'} ${bucketOf(url, functionName)}:${lineNumber + 1}`;

function main(): void {
  const { values, positionals } = parseArgs({
    options: { callers: { type: 'string' }, requests: { type: 'string' } },
    allowPositionals: true,
  });
  const callersOf = values.callers;
  const requests = values.requests === undefined ? undefined : Number(values.requests);
  const [file, topArg] = positionals;
  if (!file) throw new Error('usage: profile-summary FILE.cpuprofile [topN]');
  const top = Number(topArg ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs.entries()]
    .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
    .reduce((sum, [, us]) => sum + us, 0);
  const busy = total - idle;

  const byFunction = new Map<string, number>();
  const byBucket = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') continue;
    const bucket = bucketOf(frame.url, frame.functionName);
    byFunction.set(labelOf(frame), (byFunction.get(labelOf(frame)) ?? 0) + us);
    byBucket.set(bucket, (byBucket.get(bucket) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1)}%`;
  const perRequest = (us: number) => (requests ? (us / requests).toFixed(2) : '');
  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => [name, pct(us), perRequest(us)]);

  console.log(
    `${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (${((100 * busy) / total).toFixed(0)}%)` +
      (requests ? `, ${perRequest(busy)} µs per request` : '') +
      '; shares below are of busy time\n',
  );
  console.log(
    markdownTable(['Self time by file or package', 'share', 'µs/req'], rows(byBucket)),
    '\n',
  );
  console.log(markdownTable(['Self time by function', 'share', 'µs/req'], rows(byFunction)));

  if (callersOf) {
    // Self time of the function, by the chain of its 6 nearest callers.
    const parentOf = new Map<number, number>();
    for (const node of profile.nodes)
      for (const child of node.children ?? []) parentOf.set(child, node.id);
    const byChain = new Map<string, number>();
    for (const [id, us] of selfUs) {
      if (byId.get(id)!.callFrame.functionName !== callersOf) continue;
      const chain: string[] = [];
      for (let at = parentOf.get(id); at !== undefined && chain.length < 6; at = parentOf.get(at)) {
        chain.push(labelOf(byId.get(at)!.callFrame));
      }
      const key = chain.join(' < ');
      byChain.set(key, (byChain.get(key) ?? 0) + us);
    }
    console.log(`\nSelf time of ${callersOf} by caller chain (nearest first):\n`);
    console.log(markdownTable(['Callers', 'share', 'µs/req'], rows(byChain)));
  }
}

main();
