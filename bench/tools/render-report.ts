// Re-renders docs/benchmarks-core.md (or DIR/benchmarks-core.md) from the JSON beside it, keeping
// the analysis block: node bench/dist/bench/tools/render-report.js [DIR]
import { resolve } from 'node:path';
import { rerenderCoreReport } from '../injection/report';
import { defaultOutDir } from '../support/report';

rerenderCoreReport(process.argv[2] ? resolve(process.argv[2]) : defaultOutDir(false))
  .then((written) => console.log(`Wrote ${written}`))
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
