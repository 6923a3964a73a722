// A minimal OTLP/HTTP receiver on loopback, in the orchestrator: answers 200 `{}` to every request
// and counts what is POSTed, per path (/v1/traces, and /v1/metrics or /v1/logs if the SDK sends
// them); for traces also the spans by instrumentation scope.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface SinkPathCounts {
  requests: number;
  /** Request bodies as sent (before any decompression). */
  bytes: number;
  /** Spans by instrumentation scope name (traces only). */
  byScope: Record<string, number>;
  /** Bodies that could not be read as OTLP JSON traces. */
  unparsed: number;
}

/** By path, e.g. `/v1/traces`. */
export type SinkCounts = Record<string, SinkPathCounts>;

export const TRACES_PATH = '/v1/traces';

/** The spans received, over all scopes. */
export const spansIn = (counts: SinkCounts): number =>
  Object.values(counts[TRACES_PATH]?.byScope ?? {}).reduce((sum, spans) => sum + spans, 0);

interface OtlpTraces {
  resourceSpans?: { scopeSpans?: { scope?: { name?: string }; spans?: unknown[] }[] }[];
}

export interface OtlpSink {
  /** What OTEL_EXPORTER_OTLP_ENDPOINT should be (the exporter appends /v1/traces). */
  endpoint: string;
  counts: SinkCounts;
  close(): Promise<void>;
}

function countSpans(body: Buffer, encoding: string | undefined, counts: SinkPathCounts): void {
  try {
    const text = (encoding === 'gzip' ? gunzipSync(body) : body).toString('utf8');
    for (const resource of (JSON.parse(text) as OtlpTraces).resourceSpans ?? []) {
      for (const { scope, spans } of resource.scopeSpans ?? []) {
        const name = scope?.name ?? '(none)';
        counts.byScope[name] = (counts.byScope[name] ?? 0) + (spans?.length ?? 0);
      }
    }
  } catch {
    counts.unparsed++;
  }
}

/** Starts a sink on 127.0.0.1 at a free port. */
export async function startOtlpSink(): Promise<OtlpSink> {
  const counts: SinkCounts = {};
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method === 'POST') {
        const path = (request.url ?? '').split('?')[0];
        const body = Buffer.concat(chunks);
        const entry = (counts[path] ??= { requests: 0, bytes: 0, byScope: {}, unparsed: 0 });
        entry.requests++;
        entry.bytes += body.length;
        if (path.endsWith('/v1/traces'))
          countSpans(body, request.headers['content-encoding'], entry);
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
