// A minimal OTLP/HTTP receiver on loopback: answers 200 `{}` to every POST (/v1/traces, and
// /v1/metrics or /v1/logs if the SDK sends them) and counts what arrives. Runs in the orchestrator.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** What one path received. */
export interface SinkPathCounts {
  /** POST requests. */
  requests: number;
  /** Request bodies as sent (before any decompression). */
  bytes: number;
  /** Spans (for /v1/traces), data points' metrics (for /v1/metrics): the items in the payload. */
  items: number;
  /** Spans by instrumentation scope name (traces only). */
  byScope: Record<string, number>;
  /** Bodies that could not be read as OTLP JSON. */
  unparsed: number;
}

export interface SinkCounts {
  /** By path, e.g. `/v1/traces`. */
  paths: Record<string, SinkPathCounts>;
}

interface OtlpTraces {
  resourceSpans?: { scopeSpans?: { scope?: { name?: string }; spans?: unknown[] }[] }[];
}

interface OtlpMetrics {
  resourceMetrics?: { scopeMetrics?: { metrics?: unknown[] }[] }[];
}

export class OtlpSink {
  private readonly counts: SinkCounts = { paths: {} };

  private constructor(private readonly server: Server) {}

  /** Starts a sink on 127.0.0.1 at a free port. */
  static async start(): Promise<OtlpSink> {
    let sink: OtlpSink | undefined = undefined;
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.method === 'POST') {
          sink?.record(
            (request.url ?? '').split('?')[0],
            Buffer.concat(chunks),
            request.headers['content-encoding'],
          );
        }
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{}');
      });
    });
    sink = new OtlpSink(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return sink;
  }

  /** What OTEL_EXPORTER_OTLP_ENDPOINT should be (the exporter appends /v1/traces). */
  get endpoint(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** A copy of the counts so far. */
  snapshot(): SinkCounts {
    return JSON.parse(JSON.stringify(this.counts)) as SinkCounts;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private record(path: string, body: Buffer, encoding: string | undefined): void {
    const counts = (this.counts.paths[path] ??= {
      requests: 0,
      bytes: 0,
      items: 0,
      byScope: {},
      unparsed: 0,
    });
    counts.requests++;
    counts.bytes += body.length;
    try {
      const text = (encoding === 'gzip' ? gunzipSync(body) : body).toString('utf8');
      if (path.endsWith('/v1/traces')) {
        const payload = JSON.parse(text) as OtlpTraces;
        for (const resource of payload.resourceSpans ?? []) {
          for (const scope of resource.scopeSpans ?? []) {
            const spans = scope.spans?.length ?? 0;
            const name = scope.scope?.name ?? '(none)';
            counts.items += spans;
            counts.byScope[name] = (counts.byScope[name] ?? 0) + spans;
          }
        }
      } else if (path.endsWith('/v1/metrics')) {
        const payload = JSON.parse(text) as OtlpMetrics;
        for (const resource of payload.resourceMetrics ?? []) {
          for (const scope of resource.scopeMetrics ?? [])
            counts.items += scope.metrics?.length ?? 0;
        }
      }
    } catch {
      counts.unparsed++;
    }
  }
}
