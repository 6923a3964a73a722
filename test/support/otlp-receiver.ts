import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One span as OTLP/JSON carries it, with its attributes flattened. */
export interface ReceivedSpan {
  name: string;
  kind: number;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

interface OtlpAttribute {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpBody {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: {
      spans?: (Omit<ReceivedSpan, 'attributes'> & { attributes?: OtlpAttribute[] })[];
    }[];
  }[];
}

const flatten = (attributes: OtlpAttribute[] = []) =>
  Object.fromEntries(attributes.map(({ key, value }) => [key, Object.values(value)[0]]));

/**
 * A stand-in for an OpenTelemetry collector on loopback: accepts OTLP/HTTP JSON on /v1/traces and
 * keeps what it received.
 */
export async function startOtlpReceiver() {
  const bodies: OtlpBody[] = [];
  const paths: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      paths.push(request.url ?? '');
      if (request.url === '/v1/traces')
        bodies.push(JSON.parse(Buffer.concat(chunks).toString()) as OtlpBody);
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const resourceSpans = () => bodies.flatMap((body) => body.resourceSpans ?? []);
  return {
    url: `http://127.0.0.1:${port}`,
    /** Every path posted to, in order. */
    paths: () => [...paths],
    spans: (): ReceivedSpan[] =>
      resourceSpans().flatMap((resource) =>
        (resource.scopeSpans ?? []).flatMap((scope) =>
          (scope.spans ?? []).map((span) => ({ ...span, attributes: flatten(span.attributes) })),
        ),
      ),
    serviceNames: () =>
      resourceSpans().map((resource) => flatten(resource.resource?.attributes)['service.name']),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
