import type { MeterProvider } from '@opentelemetry/api';
import type { Cluster, Redis } from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { RedisCacheConfigError, redactUrl } from '../errors/redis-cache.errors';
import type { RedisCacheModuleOptions } from '../redis-cache.interfaces';

/**
 * The one description of every module option: its schema, what a valid value looks like (for
 * error messages, built from the same bounds the schema checks) and the environment variable
 * that sets it, if any. `RedisCacheModuleOptions` documents them for users and is checked
 * against this schema at compile time (bottom of this file).
 */
export interface OptionInfo {
  /** What a valid value looks like: "expected ...". */
  expected: string;
  /** It says where Redis is, or how to connect to it: the memory store has no use for it. */
  connection?: 'location' | 'setting';
  /** It may hold a secret (also when set to one by mistake): errors name it, never show it. */
  secret?: boolean;
  /** The environment variable that sets the option. */
  env?: string;
  /** What a valid variable looks like, where it differs from `expected`. */
  envExpected?: string;
  /** The variable's text as the option's value (the option's schema checks it next). */
  fromText?: (text: string) => unknown;
}

const optionInfo = z.registry<OptionInfo>();

/** An optional option described by `info`. */
function option<T extends z.ZodType>(schema: T, info: OptionInfo) {
  const optional = schema.optional();
  optionInfo.add(optional, info);
  return optional;
}

/** Marks an option as part of the connection (see `OptionInfo.connection`). */
function connection<T extends z.ZodType>(kind: 'location' | 'setting', schema: T): T {
  optionInfo.add(schema, { ...optionInfo.get(schema)!, connection: kind });
  return schema;
}

const wholeText = (text: string): unknown => (/^\d+$/.test(text) ? Number(text) : text);

/** A whole number from `min` (to `max`); `noun` says what it counts, `minMeans` what `min` does. */
function wholeNumber(
  noun: string,
  min: number,
  max?: number,
  more: { env?: string; minMeans?: string; maxMeans?: string } = {},
) {
  const low = more.minMeans ? `${min} (${more.minMeans})` : `${min}`;
  const high = more.maxMeans ? `${max} (${more.maxMeans})` : `${max}`;
  const range = max === undefined ? `>= ${low}` : `from ${low} to ${high}`;
  const schema = z
    .number()
    .int()
    .min(min)
    .max(max ?? Number.MAX_SAFE_INTEGER);
  return option(schema, { expected: `${noun} ${range}`, env: more.env, fromText: wholeText });
}

const FLAG_TEXT = new Map([
  ['true', true],
  ['false', false],
  ['1', true],
  ['0', false],
]);
/** How a variable of a boolean option reads: any text but these stays text (and fails). */
const FLAG_VARIABLE = {
  envExpected: '"true" or "false"',
  fromText: (text: string): unknown => FLAG_TEXT.get(text) ?? text,
};

function flag(env?: string) {
  return option(z.boolean(), { expected: 'a boolean', env, ...FLAG_VARIABLE });
}

function text(expected: string, env?: string, secret?: boolean) {
  return option(z.string(), { expected, env, secret });
}

/** A group of options; `what` lists them for the message when the group is not an object. */
function group<T extends z.core.$ZodLooseShape>(shape: T, what = Object.keys(shape).join(', ')) {
  return option(z.strictObject(shape), { expected: `an object with ${what}` });
}

const PORT = { min: 1, max: 65_535 };

// A node as "host:port" (checked when the connection is resolved) or { host, port }.
const nodeAddress = z.union([
  z.string(),
  z.strictObject({ host: z.string().min(1), port: z.number().int().min(PORT.min).max(PORT.max) }),
]);

const NODES = 'a non-empty array of "host:port" strings or { host, port } objects';

/** A list of nodes; its variable holds them comma-separated. */
function nodeList(env?: string) {
  return option(z.array(nodeAddress).min(1), {
    expected: NODES,
    env,
    envExpected: 'comma-separated "host:port" addresses',
    fromText: (list) => list.split(',').map((node) => node.trim()),
  });
}

// Route params become object keys on the request: a plain identifier keeps them unambiguous.
const routeParam = () =>
  option(z.string().regex(/^[A-Za-z_$][\w$]*$/), {
    expected: 'a route parameter name (letters, digits, _ or $)',
  });

// Options objects are plain: a Buffer or a class instance given as `tls` is a mistake (a PEM file
// read where `{ ca }` was meant), not options.
const isPlainObject = (value: unknown): value is object => {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

const hasMethods = (value: unknown, ...methods: string[]): boolean =>
  typeof value === 'object' &&
  value !== null &&
  methods.every((method) => typeof (value as Record<string, unknown>)[method] === 'function');

// By shape, not `instanceof`: the application's ioredis, prom-client or OpenTelemetry API may be
// another copy than this package's.
const isRedisClient = (value: unknown): value is Redis | Cluster =>
  hasMethods(value, 'sendCommand') && typeof (value as Redis).status === 'string';
const isRegistry = (value: unknown): value is Registry =>
  hasMethods(value, 'registerMetric', 'getSingleMetric', 'metrics');
const isMeterProvider = (value: unknown): value is MeterProvider => hasMethods(value, 'getMeter');

// ioredis options hold passwords and TLS keys.
const ioredisOptions = (expected: string) =>
  option(z.record(z.string(), z.unknown()), { expected, secret: true });

export const optionsSchema = z.strictObject({
  url: connection(
    'location',
    option(
      z
        .string()
        // No whitespace: URL parsing would drop a trailing newline or a tab a mounted secret holds.
        .regex(/^rediss?:\/\/\S*$/)
        .refine((url) => URL.canParse(url)),
      { expected: 'a redis:// or rediss:// URL', env: 'REDIS_URL' },
    ),
  ),
  addr: connection(
    'location',
    text(`"host:port" with a port from ${PORT.min} to ${PORT.max}`, 'REDIS_ADDR'),
  ),
  host: connection('location', option(z.string().min(1), { expected: 'a non-empty host name' })),
  port: connection('location', wholeNumber('an integer port', PORT.min, PORT.max)),
  username: connection('setting', text('a string', 'REDIS_USERNAME')),
  password: connection('setting', text('a string', 'REDIS_PASSWORD', true)),
  db: connection('setting', wholeNumber('a database number', 0, undefined, { env: 'REDIS_DB' })),
  tls: connection(
    'setting',
    option(z.union([z.boolean(), z.custom<ConnectionOptions>(isPlainObject)]), {
      expected: 'true, false or Node TLS connection options',
      secret: true,
      env: 'REDIS_TLS',
      ...FLAG_VARIABLE,
    }),
  ),
  cluster: connection(
    'location',
    group(
      {
        nodes: nodeList('REDIS_CLUSTER_NODES'),
        clusterOptions: ioredisOptions('an object of ioredis Cluster options'),
      },
      '"nodes" (a non-empty array) and optional "clusterOptions"',
    ),
  ),
  sentinels: connection('location', nodeList('REDIS_SENTINELS')),
  name: connection(
    'setting',
    option(z.string().min(1), {
      expected: 'the non-empty name of the master group the sentinels monitor',
      env: 'REDIS_SENTINEL_NAME',
    }),
  ),
  sentinelPassword: connection('setting', text('a string', 'REDIS_SENTINEL_PASSWORD', true)),
  client: connection(
    'location',
    option(z.custom<Redis | Cluster>(isRedisClient), {
      expected: 'an ioredis Redis or Cluster instance',
      secret: true,
    }),
  ),
  redisOptions: connection('setting', ioredisOptions('an object of ioredis options')),
  store: option(z.enum(['redis', 'memory']), {
    expected: '"redis" or "memory"',
    env: 'CACHE_STORE',
  }),
  defaultTtlSeconds: wholeNumber('a whole number of seconds', 1, undefined, {
    env: 'CACHE_DEFAULT_TTL_SECONDS',
  }),
  maxTtlSeconds: wholeNumber('a whole number of seconds', 1, undefined, {
    env: 'CACHE_MAX_TTL_SECONDS',
  }),
  operationTimeoutMs: wholeNumber('a whole number of milliseconds', 1, 60_000, {
    env: 'CACHE_OPERATION_TIMEOUT_MS',
  }),
  startupWaitMs: wholeNumber('a whole number of milliseconds', 0, 60_000),
  failOpen: flag('CACHE_FAIL_OPEN'),
  namespaceIndex: flag('CACHE_NAMESPACE_INDEX'),
  maxValueBytes: wholeNumber('a whole number of bytes', 1, 512 * 1024 * 1024, {
    env: 'CACHE_MAX_VALUE_BYTES',
    maxMeans: '512 MiB, the most Redis stores',
  }),
  maxKeyBytes: wholeNumber('a whole number of bytes', 1, 64 * 1024, { env: 'CACHE_MAX_KEY_BYTES' }),
  stampede: group({
    lock: flag('CACHE_STAMPEDE_LOCK'),
    lockTtlMs: wholeNumber('a whole number of milliseconds', 1, 600_000),
    lockWaitMs: wholeNumber('a whole number of milliseconds', 0, 600_000),
    earlyRefresh: flag('CACHE_EARLY_REFRESH'),
    earlyRefreshBeta: option(z.number().positive().max(100), {
      expected: 'a number above 0, at most 100',
    }),
  }),
  routeParams: group(
    { app: routeParam(), device: routeParam() },
    '"app" and "device" route parameter names',
  ),
  metrics: group({
    enabled: flag('CACHE_METRICS'),
    prefix: option(z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/), {
      expected:
        'a Prometheus metric name prefix (letters, digits, _ and :, not starting with a digit)',
    }),
    registry: option(z.custom<Registry>(isRegistry), { expected: 'a prom-client Registry' }),
    apps: option(z.array(z.string().min(1)), { expected: 'an array of app ids' }),
    keyCountIntervalMs: wholeNumber('a whole number of milliseconds', 0, 86_400_000, {
      env: 'CACHE_KEY_COUNT_INTERVAL_MS',
      minMeans: 'off',
    }),
    keyCountSamples: option(z.union([z.literal('auto'), z.number().int().min(0).max(1_000_000)]), {
      expected:
        '"auto" or a whole number from 0 (count exactly) to 1000000 (random keys to sample)',
      env: 'CACHE_KEY_COUNT_SAMPLES',
      fromText: wholeText,
    }),
    openTelemetry: option(
      z.union([
        z.boolean(),
        z.strictObject({ meterProvider: z.custom<MeterProvider>(isMeterProvider) }),
      ]),
      {
        expected: 'true, false or { meterProvider } with an OpenTelemetry MeterProvider',
        env: 'CACHE_METRICS_OPENTELEMETRY',
        ...FLAG_VARIABLE,
      },
    ),
  }),
  tracing: group({
    enabled: flag('CACHE_TRACING'),
    recordDeviceId: flag(),
    recordKey: flag(),
  }),
});

/** An option with where it sits (`metrics.prefix`), its schema and its description. */
export interface DescribedOption {
  path: string[];
  schema: z.ZodType;
  info: OptionInfo;
}

function describeShape(shape: Record<string, z.ZodType>, parent: string[]): DescribedOption[] {
  return Object.entries(shape).flatMap(([key, schema]) => {
    const path = [...parent, key];
    const info = optionInfo.get(schema);
    if (!info)
      throw new Error(
        `Option ${path.join('.')} is not declared with option() in option-schema.ts.`,
      );
    const own = { path, schema, info };
    const inner = schema instanceof z.ZodOptional ? schema.unwrap() : schema;
    return inner instanceof z.ZodObject && parent.length === 0
      ? [own, ...describeShape(inner.shape, path)]
      : [own];
  });
}

/** Every option and group, top-level ones first within each group. */
export const DESCRIBED_OPTIONS: readonly DescribedOption[] = describeShape(optionsSchema.shape, []);

const byPath = new Map(DESCRIBED_OPTIONS.map((option) => [option.path.join('.'), option]));

/** The option at `path`, or the one holding it (`cluster.nodes.0` is in `cluster.nodes`). */
export function describedAt(path: string): DescribedOption | undefined {
  for (let at = path; at !== ''; at = at.slice(0, Math.max(0, at.lastIndexOf('.')))) {
    const described = byPath.get(at);
    if (described) return described;
  }
  return undefined;
}

/** The top-level option names, for "Known options: ...". */
export const OPTION_NAMES = Object.keys(optionsSchema.shape);

// The documented interface and the schema must name the same options, in every group.
type Mismatch<A, B> = Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>;
type SchemaInput = z.input<typeof optionsSchema>;
type Groups = 'cluster' | 'stampede' | 'routeParams' | 'metrics' | 'tracing';
type GroupMismatch = {
  [G in Groups]: Mismatch<NonNullable<SchemaInput[G]>, NonNullable<RedisCacheModuleOptions[G]>>;
}[Groups];
const sameOptions: [Mismatch<SchemaInput, RedisCacheModuleOptions>, GroupMismatch] extends [
  never,
  never,
]
  ? true
  : never = true;
void sameOptions;
// ...and every documented option's type must be one the schema accepts.
void ((options: RedisCacheModuleOptions): SchemaInput => options);

/** The error for a bad value of the option at `path`, which never shows a secret. */
export function invalidOptionError(path: string, got: unknown): RedisCacheConfigError {
  const described = describedAt(path);
  const shown = described?.info.secret
    ? '(hidden)'
    : typeof got === 'string'
      ? redactUrl(got)
      : got;
  const expected = described?.info.expected ?? 'a valid value';
  return RedisCacheConfigError.invalidOption(path, expected, shown);
}

/** The value at `path` inside `root`, if every step is an object. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value: unknown = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
