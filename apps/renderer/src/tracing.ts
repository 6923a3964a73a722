// OpenTelemetry for the renderer, started before Nest loads: the instrumentations patch http, Nest
// and ioredis as they are first required, so main.ts imports this file first.
//
// Tracing is on only when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set;
// otherwise no SDK starts and the cache's spans are the API's non-recording ones, which cost next to
// nothing. Service name and resource attributes come from OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES, as the SDK reads them.
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { NestInstrumentation } from '@opentelemetry/instrumentation-nestjs-core';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { redisStatementSerializer } from 'nestjs-redis-app-cache/opentelemetry';
import { DeviceIdRedactor } from './device-id-redactor';

/** The service name when OTEL_SERVICE_NAME does not give one. */
export const DEFAULT_SERVICE_NAME = 'matrx-renderer';

/** Starts the SDK when an OTLP endpoint is configured; returns it so shutdown can flush it. */
export function startTracing(env: NodeJS.ProcessEnv = process.env): NodeSDK | undefined {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return undefined;
  // Traces only: metrics go to Prometheus through /metrics, logs to stdout. Either can still be
  // turned on with its OTEL_*_EXPORTER variable.
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const sdk = new NodeSDK({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: DEFAULT_SERVICE_NAME }),
    // Device ids out of the URL attributes first, then batched to the OTLP endpoint.
    spanProcessors: [
      new DeviceIdRedactor(),
      new BatchSpanProcessor({ exporter: new OTLPTraceExporter() }),
    ],
    instrumentations: [
      new HttpInstrumentation(),
      new NestInstrumentation(),
      // The database CLIENT spans: one per Redis command, under the cache's INTERNAL spans. Their
      // db.query.text shows no key (keys hold device ids) or value.
      new IORedisInstrumentation({ dbStatementSerializer: redisStatementSerializer() }),
    ],
  });
  sdk.start();
  return sdk;
}

export const tracing = startTracing();
