// The deployment files (Dockerfile, .dockerignore, docker-compose.yml) cannot be built or run here
// (no Docker engine), so this suite reads them and checks what would break a deployment: wrong
// ports, a missing build input, dev-only dependencies at runtime, a service name typo.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, posix, resolve } from 'node:path';
import { Script } from 'node:vm';
import { load } from 'js-yaml';
import * as ts from 'typescript';
import { RENDERER_CONFIG_DEFAULTS } from '../src/config/renderer.config';

// Repository-relative paths throughout: the image is built from the repository root.
const root = resolve(__dirname, '..', '..', '..');
const readText = (file: string): string => readFileSync(join(root, file), 'utf8');

interface PackageJson {
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  workspaces?: string[];
}
/** The root package (the library, and the scripts the image runs) and the renderer's. */
const pkg = JSON.parse(readText('package.json')) as PackageJson;
const rendererPkg = JSON.parse(readText('apps/renderer/package.json')) as PackageJson;
/** The script that builds the service, and the tsconfigs of the library and the service. */
const BUILD_SCRIPT = 'build:renderer';
const BUILD_TSCONFIGS = ['tsconfig.build.json', 'apps/renderer/tsconfig.build.json'];

// ---------------------------------------------------------------------------------------------
// Dockerfile: instructions (comments dropped, `\` continuations joined) grouped into stages.

interface Instruction {
  /** Upper-cased, e.g. `RUN`. */
  readonly keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  readonly args: string;
}

interface Stage {
  readonly image: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    // Docker drops comment lines, even inside a continuation; parser directives are comments too.
    if (line.startsWith('#')) continue;
    if (line === '' && pending === '') continue;
    const continued = line.endsWith('\\');
    pending += `${continued ? line.slice(0, -1).trimEnd() : line} `;
    if (continued) continue;
    const joined = pending.trim();
    pending = '';
    if (joined === '') continue;
    const match = /^(\S+)\s*([\s\S]*)$/.exec(joined)!;
    instructions.push({ keyword: match[1].toUpperCase(), args: match[2] });
  }
  if (pending.trim() !== '') throw new Error('Dockerfile ends inside a line continuation');
  return instructions;
}

function stagesOf(instructions: readonly Instruction[]): Stage[] {
  const stages: { image: string; name: string | undefined; instructions: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      stages.push({
        image,
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        instructions: [],
      });
    } else if (stages.length > 0) {
      stages.at(-1)!.instructions.push(instruction);
    } else if (instruction.keyword !== 'ARG') {
      throw new Error(`${instruction.keyword} before the first FROM`);
    }
  }
  return stages;
}

const all = (stage: Stage, keyword: string): Instruction[] =>
  stage.instructions.filter((i) => i.keyword === keyword);
const last = (stage: Stage, keyword: string): Instruction | undefined => all(stage, keyword).at(-1);

/** The JSON ("exec") form's words, or `undefined` when the text is not a JSON array of strings. */
function execForm(text: string): string[] | undefined {
  if (!text.trimStart().startsWith('[')) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (Array.isArray(parsed) && parsed.every((w) => typeof w === 'string')) return parsed;
  } catch {
    // Docker silently runs invalid JSON through `/bin/sh -c` instead.
  }
  return undefined;
}

/** `ENV A=1 B=2` (or the legacy `ENV A 1`), later values winning, across the stage. */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { args } of all(stage, 'ENV')) {
    if (!/^[^\s=]+=/.test(args)) {
      const [name, ...value] = args.split(/\s+/);
      env[name] = value.join(' ');
      continue;
    }
    for (const [, name, quoted, bare] of args.matchAll(/([^\s=]+)=(?:"([^"]*)"|(\S*))/g)) {
      env[name] = quoted ?? bare;
    }
  }
  return env;
}

/** The stage's working directory after its last `WORKDIR` (relative ones resolve on the previous). */
const workdirOf = (stage: Stage): string =>
  all(stage, 'WORKDIR').reduce((dir, { args }) => posix.resolve(dir, args.trim()), '/');

interface Copy {
  readonly from: string | undefined;
  readonly sources: readonly string[];
  readonly dest: string;
}

function parseCopy({ args }: Instruction): Copy {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const rest = args.slice(args.indexOf(words.find((w) => !w.startsWith('--'))!));
  const paths = execForm(rest) ?? rest.split(/\s+/);
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** A glob (`*`, `?`, `**`) as used by COPY sources and .dockerignore, as a whole-path regex. */
function globRegex(glob: string): RegExp {
  const pieces: Record<string, string> = {
    '**/': '(?:.*/)?',
    '**': '.*',
    '*': '[^/]*',
    '?': '[^/]',
  };
  const body = glob
    .split(/(\*\*\/?|\*|\?)/)
    .map((part) => pieces[part] ?? part.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
    .join('');
  return new RegExp(`^${body}$`);
}

/**
 * Where a path (repository-relative, or absolute in the `--from` stage) lands in the image, or
 * `undefined` when the COPY does not carry it. A source equal to the path is a file; a source that
 * contains it is a directory, whose contents go into the destination.
 */
function landing(copy: Copy, path: string, workdir: string): string | undefined {
  const norm = (p: string) =>
    copy.from === undefined ? posix.normalize(p) : posix.resolve('/', p);
  const dest = posix.resolve(workdir, copy.dest);
  for (const source of copy.sources.map(norm)) {
    const target = norm(path);
    if (globRegex(source).test(target)) {
      const intoDir = copy.dest.endsWith('/') || copy.sources.length > 1 || source.includes('*');
      return intoDir ? posix.join(dest, posix.basename(target)) : dest;
    }
    const inside = posix.relative(source, target);
    if (source === '.' || (!inside.startsWith('..') && !posix.isAbsolute(inside))) {
      return posix.join(dest, inside);
    }
  }
  return undefined;
}

/** Where `path` is in the stage's image just before instruction `before` (undefined: not there). */
function copiedTo(stage: Stage, path: string, before: Instruction): string | undefined {
  const copies = stage.instructions
    .slice(0, stage.instructions.indexOf(before))
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD');
  return copies
    .map((i) => landing(parseCopy(i), path, workdirOf(stage)))
    .findLast((p) => p !== undefined);
}

interface NpmCommand {
  readonly instruction: Instruction;
  /** The words after `npm`. */
  readonly args: readonly string[];
}

/** Every `npm …` a stage's RUN instructions start (commands split on `&&`, `||`, `;` and `|`). */
function npmCommands(stage: Stage): NpmCommand[] {
  return all(stage, 'RUN').flatMap((instruction) =>
    (execForm(instruction.args) ?? [instruction.args])
      .join(' ')
      .split(/&&|\|\||;|\|/)
      .map((command) => command.trim().split(/\s+/))
      .filter((words) => words[0] === 'npm')
      .map((words) => ({ instruction, args: words.slice(1) })),
  );
}

const isNpm = (command: NpmCommand, sub: string) => command.args[0] === sub;
const npmScript = (command: NpmCommand) =>
  ['run', 'run-script'].includes(command.args[0])
    ? command.args.slice(1).find((w) => !w.startsWith('-'))
    : undefined;

/** npm's own commands this Dockerfile may use; anything else is a typo or a removed command. */
const NPM_COMMANDS = new Set(['ci', 'install', 'i', 'cache', 'prune', 'rebuild', 'config']);
/** npm shorthands for scripts: they fail unless package.json defines the script. */
const NPM_SCRIPT_SHORTHANDS = new Set(['test', 'start', 'stop', 'restart']);

// ---------------------------------------------------------------------------------------------
// .dockerignore: last matching pattern wins; `!` re-includes; a matched directory takes its contents.

function isDockerIgnored(patterns: readonly string[], path: string): boolean {
  let ignored = false;
  const segments = path.split('/');
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = posix
      .normalize(raw.slice(negated ? 1 : 0).replace(/^\/+/, ''))
      .replace(/\/$/, '');
    const regex = globRegex(pattern);
    if (segments.some((_, n) => regex.test(segments.slice(0, n + 1).join('/')))) ignored = !negated;
  }
  return ignored;
}

// ---------------------------------------------------------------------------------------------
// docker-compose.yml: the few shapes of the Compose spec this suite reads, normalized.

type ComposeList<T> = readonly T[];
interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | ComposeList<string>;
  environment?: Record<string, string | number | boolean | null> | ComposeList<string>;
  ports?: ComposeList<string | number | { target: number; published?: string | number }>;
  volumes?: ComposeList<string | { type?: string; source?: string; target: string }>;
  healthcheck?: { test?: string | ComposeList<string>; disable?: boolean };
  depends_on?: ComposeList<string> | Record<string, { condition?: string }>;
  stop_grace_period?: string;
}
interface ComposeFile {
  version?: unknown;
  services?: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const words = (value: string | ComposeList<string> | undefined): string[] =>
  value === undefined ? [] : typeof value === 'string' ? value.trim().split(/\s+/) : [...value];

function environmentOf(service: ComposeService): Record<string, string | undefined> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      (env as ComposeList<string>).map((e) => {
        const at = e.indexOf('=');
        return at < 0 ? [e, undefined] : [e.slice(0, at), e.slice(at + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(env as Record<string, unknown>).map(([k, v]) => [
      k,
      v === null ? undefined : String(v as string | number | boolean),
    ]),
  );
}

/** The container side of each published port (`8080:8080`, `127.0.0.1:80:8080/tcp`, long form). */
const containerPorts = (service: ComposeService): number[] =>
  (service.ports ?? []).map((port) =>
    typeof port === 'object'
      ? Number(port.target)
      : Number(String(port).split('/')[0].split(':').at(-1)),
  );

const mountsOf = (service: ComposeService): { source?: string; target: string }[] =>
  (service.volumes ?? []).map((volume) => {
    if (typeof volume === 'object') return { source: volume.source, target: volume.target };
    const parts = volume.split(':');
    return parts.length === 1 ? { target: parts[0] } : { source: parts[0], target: parts[1] };
  });

/** A Compose duration (`15s`, `1m30s`, `500ms`) in milliseconds; NaN when it is not one. */
function durationMs(value: string | undefined): number {
  const units: Record<string, number> = {
    h: 3_600_000,
    m: 60_000,
    s: 1000,
    ms: 1,
    us: 1e-3,
    ns: 1e-6,
  };
  const parts = [...(value ?? '').matchAll(/(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== value) return Number.NaN;
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * units[unit], 0);
}

// ---------------------------------------------------------------------------------------------
// Sources: which packages the compiled service loads at run time.

function readTsconfig(file: string): {
  extends?: string;
  compilerOptions?: Record<string, unknown>;
} {
  const { config, error } = ts.readConfigFile(join(root, file), ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  return config as { extends?: string; compilerOptions?: Record<string, unknown> };
}

/** The tsconfig and every local file it `extends`, repository-relative. */
function tsconfigChain(file: string): string[] {
  const base = readTsconfig(file).extends;
  return base?.startsWith('.')
    ? [file, ...tsconfigChain(posix.join(posix.dirname(file), base))]
    : [file];
}

/** A build's resolved `rootDir` and `outDir`, repository-relative (first one set in the chain). */
function buildDirs(tsconfig: string): { rootDir: string; outDir: string } {
  const chain = tsconfigChain(tsconfig);
  const option = (name: string) => {
    const file = chain.find((f) => readTsconfig(f).compilerOptions?.[name] !== undefined)!;
    return posix.join(posix.dirname(file), String(readTsconfig(file).compilerOptions![name]));
  };
  return { rootDir: option('rootDir'), outDir: option('outDir') };
}

/** Packages (not Node built-ins) a file imports for their values: type-only imports are erased. */
function runtimePackages(file: string): string[] {
  const source = ts.createSourceFile(file, readText(file), ts.ScriptTarget.Latest);
  const specifiers = source.statements.flatMap((statement) => {
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      const bindings = clause?.namedBindings;
      const typeOnly =
        clause?.isTypeOnly === true ||
        (clause !== undefined &&
          clause.name === undefined &&
          bindings !== undefined &&
          ts.isNamedImports(bindings) &&
          bindings.elements.length > 0 &&
          bindings.elements.every((e) => e.isTypeOnly));
      return typeOnly ? [] : [statement.moduleSpecifier];
    }
    if (ts.isExportDeclaration(statement) && !statement.isTypeOnly && statement.moduleSpecifier) {
      return [statement.moduleSpecifier];
    }
    return [];
  });
  return specifiers
    .filter(ts.isStringLiteral)
    .map((s) => s.text)
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) =>
      s
        .split('/')
        .slice(0, s.startsWith('@') ? 2 : 1)
        .join('/'),
    );
}

// ---------------------------------------------------------------------------------------------

describe('deployment files', () => {
  const dockerfile = stagesOf(parseDockerfile(readText('Dockerfile')));
  const final = dockerfile.at(-1)!;
  const build = dockerfile.find((stage) =>
    npmCommands(stage).some((c) => npmScript(c) === BUILD_SCRIPT),
  )!;
  const dockerignore = readText('.dockerignore')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const compose = load(readText('docker-compose.yml')) as ComposeFile;
  const services = compose.services ?? {};
  const redis = services.redis;
  const renderer = services.renderer;

  describe('Dockerfile', () => {
    it('has a build stage and a separate final stage, all on Node 24', () => {
      expect(dockerfile.length).toBeGreaterThanOrEqual(2);
      for (const stage of dockerfile) expect(stage.image).toMatch(/^node:24(?:[.-]|$)/);
      expect(build).toBeDefined();
      expect(build).not.toBe(final);
    });

    it('installs the locked dependencies, then builds, in the build stage', () => {
      const commands = npmCommands(build);
      const ci = commands.findIndex((c) => isNpm(c, 'ci'));
      const run = commands.findIndex((c) => npmScript(c) === BUILD_SCRIPT);
      expect(ci).toBeGreaterThanOrEqual(0);
      expect(run).toBeGreaterThan(ci);
      expect(commands[ci].args).not.toContain('--omit=dev');
    });

    it('runs only npm commands and package.json scripts that exist', () => {
      const scripts = Object.keys(pkg.scripts ?? {});
      const commands = dockerfile.flatMap(npmCommands);
      expect(commands.length).toBeGreaterThan(0);
      for (const command of commands) {
        const [sub] = command.args;
        const script = npmScript(command);
        if (script !== undefined) expect(scripts).toContain(script);
        else if (NPM_SCRIPT_SHORTHANDS.has(sub)) expect(scripts).toContain(sub);
        else expect([...NPM_COMMANDS]).toContain(sub);
      }
    });

    it('copies each build input to where the build reads it, before the build needs it', () => {
      const workdir = workdirOf(build);
      const commands = npmCommands(build);
      const ci = commands.find((c) => isNpm(c, 'ci'))!;
      const run = commands.find((c) => npmScript(c) === BUILD_SCRIPT)!;
      // npm ci checks every workspace's manifest against the lockfile.
      const manifests = ['package.json', 'package-lock.json'].concat(
        (pkg.workspaces ?? []).map((workspace) => posix.join(workspace, 'package.json')),
      );
      const needs: [string, Instruction][] = [
        ...manifests.map((f): [string, Instruction] => [f, ci.instruction]),
        ...BUILD_TSCONFIGS.flatMap(tsconfigChain).map((f): [string, Instruction] => [
          f,
          run.instruction,
        ]),
        [posix.join(buildDirs(BUILD_TSCONFIGS[0]).rootDir, 'index.ts'), run.instruction],
        [posix.join(buildDirs(BUILD_TSCONFIGS[1]).rootDir, 'main.ts'), run.instruction],
      ];
      for (const [file, before] of needs) {
        expect({ file, at: copiedTo(build, file, before) }).toEqual({
          file,
          at: posix.join(workdir, file),
        });
        expect({ file, ignored: isDockerIgnored(dockerignore, file) }).toEqual({
          file,
          ignored: false,
        });
      }
    });

    it('installs production dependencies only in the final stage', () => {
      const commands = npmCommands(final);
      const installs = commands.filter(
        (c) => isNpm(c, 'ci') || isNpm(c, 'install') || isNpm(c, 'i'),
      );
      expect(installs.length).toBeGreaterThan(0);
      for (const install of installs) {
        expect(install.args[0]).toBe('ci');
        expect(install.args).toContain('--omit=dev');
      }
      expect(envOf(final).NODE_ENV).toBe('production');
    });

    it('has every package the service and the library import as a production dependency', () => {
      // The library's own dependencies, and its peers, which the renderer provides.
      const provided = {
        [BUILD_TSCONFIGS[0]]: [
          ...Object.keys(pkg.dependencies ?? {}),
          ...Object.keys(pkg.peerDependencies ?? {}).filter((name) =>
            Object.keys(rendererPkg.dependencies ?? {}).includes(name),
          ),
        ],
        [BUILD_TSCONFIGS[1]]: Object.keys(rendererPkg.dependencies ?? {}),
      };
      for (const tsconfig of BUILD_TSCONFIGS) {
        const { rootDir } = buildDirs(tsconfig);
        const sources = readdirSync(join(root, rootDir), { recursive: true, encoding: 'utf8' })
          .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts') && !f.endsWith('.d.ts'))
          .map((f) => posix.join(rootDir, f.split('\\').join('/')));
        expect(sources.length).toBeGreaterThan(0);
        for (const file of sources) {
          for (const name of runtimePackages(file)) {
            expect({ file, name, production: provided[tsconfig].includes(name) }).toEqual({
              file,
              name,
              production: true,
            });
          }
        }
      }
    });

    it('starts the compiled entry point that the final stage copies from the build stage', () => {
      const cmd = execForm(last(final, 'CMD')?.args ?? '');
      // Exec form: node is PID 1 and gets SIGTERM itself, not a shell that would swallow it.
      expect(cmd?.[0]).toBe('node');
      const fromBuild = all(final, 'COPY')
        .map(parseCopy)
        .filter((c) => c.from === build.name || c.from === String(dockerfile.indexOf(build)));
      const landed = (tsconfig: string, file: string) => {
        const { rootDir, outDir } = buildDirs(tsconfig);
        expect(existsSync(join(root, rootDir, file.replace(/\.js$/, '.ts')))).toBe(true);
        const built = posix.join(workdirOf(build), outDir, file);
        return fromBuild.map((c) => landing(c, built, workdirOf(final))).findLast(Boolean);
      };
      expect(landed(BUILD_TSCONFIGS[1], 'main.js')).toBe(posix.resolve(workdirOf(final), cmd![1]));
      // The library's build, where the renderer's link to the root package finds it.
      expect(landed(BUILD_TSCONFIGS[0], 'index.js')).toBe(
        posix.resolve(workdirOf(final), String(JSON.parse(readText('package.json')).main)),
      );
    });

    it('ends as a non-root user', () => {
      const user = last(final, 'USER')?.args.trim().split(':')[0];
      expect(user).toBeDefined();
      expect(['', 'root', '0']).not.toContain(user);
    });

    it('checks liveness with node (no curl in the slim image) on /health/live', () => {
      const healthcheck = last(final, 'HEALTHCHECK')?.args ?? '';
      const command = healthcheck.replace(/^(?:--\S+\s+)*/, '');
      expect(command).toMatch(/^CMD\s/);
      const exec = execForm(command.replace(/^CMD\s+/, ''));
      // Invalid JSON would silently become a shell command: backticks and ${} would break it.
      expect(exec).toBeDefined();
      expect(exec!.slice(0, 2)).toEqual(['node', '-e']);
      const script = exec![2];
      expect(script).toContain('/health/live');
      expect(script).toMatch(/\bprocess\.env\.PORT\b/);
      expect(script).toMatch(/\.ok\b/);
      expect(script).toMatch(/process\.exit\(1\)/);
      expect(() => new Script(script)).not.toThrow();
    });

    it('stops with SIGTERM, which the service handles by draining', () => {
      expect(last(final, 'STOPSIGNAL')?.args.trim()).toBe('SIGTERM');
    });
  });

  describe('.dockerignore', () => {
    it.each([
      'node_modules',
      'dist',
      '.git',
      'node_modules/x/index.js',
      'apps/renderer/node_modules/x/index.js',
      'apps/renderer/dist/main.js',
    ])('keeps %s out of the build context', (path) =>
      expect(isDockerIgnored(dockerignore, path)).toBe(true),
    );
  });

  describe('docker-compose.yml', () => {
    it('uses the Compose spec (no top-level version) with the redis and renderer services', () => {
      expect(compose).not.toHaveProperty('version');
      expect(redis).toBeDefined();
      expect(renderer).toBeDefined();
      expect(redis.image).toMatch(/^redis:/);
    });

    it('runs redis with an append-only file on a declared named volume', () => {
      const command = words(redis.command);
      expect(command[0]).toBe('redis-server');
      const at = command.indexOf('--appendonly');
      expect(at).toBeGreaterThan(0);
      expect(command[at + 1]).toBe('yes');
      const data = mountsOf(redis).find((m) => m.target === '/data');
      expect(data?.source).toBeDefined();
      expect(Object.keys(compose.volumes ?? {})).toContain(data!.source);
    });

    it('gives redis a healthcheck that the renderer waits for', () => {
      expect(redis.healthcheck?.disable).not.toBe(true);
      const test = words(redis.healthcheck?.test);
      expect(test).toEqual(expect.arrayContaining(['redis-cli', 'ping']));
      const dependsOn = renderer.depends_on as Record<string, { condition?: string }> | undefined;
      expect(Array.isArray(dependsOn)).toBe(false);
      expect(dependsOn?.redis?.condition).toBe('service_healthy');
    });

    it('points REDIS_ADDR at the redis service and its port', () => {
      const [host, port, ...extra] = (environmentOf(renderer).REDIS_ADDR ?? '').split(':');
      expect(extra).toEqual([]);
      expect(Object.keys(services)).toContain(host);
      expect(services[host].image).toMatch(/^redis:/);
      const command = words(services[host].command);
      const redisPort = command.includes('--port')
        ? command[command.indexOf('--port') + 1]
        : '6379';
      expect(port).toBe(redisPort);
    });

    it('publishes the port the service listens on, the same everywhere', () => {
      const port = Number(environmentOf(renderer).PORT);
      expect(port).toBe(RENDERER_CONFIG_DEFAULTS.port);
      expect(containerPorts(renderer)).toContain(port);
      expect(
        all(final, 'EXPOSE').flatMap((e) =>
          e.args.split(/\s+/).map((p) => Number(p.split('/')[0])),
        ),
      ).toContain(port);
      expect(Number(envOf(final).PORT)).toBe(port);
    });

    it('builds the renderer from this Dockerfile', () => {
      const context = typeof renderer.build === 'string' ? renderer.build : renderer.build?.context;
      const file = typeof renderer.build === 'object' ? renderer.build.dockerfile : undefined;
      expect(context).toBeDefined();
      expect(resolve(root, context!, file ?? 'Dockerfile')).toBe(join(root, 'Dockerfile'));
    });

    it('gives the renderer longer to stop than its own shutdown timeout', () => {
      const env = environmentOf(renderer);
      const timeout = Number(env.SHUTDOWN_TIMEOUT_MS ?? RENDERER_CONFIG_DEFAULTS.shutdownTimeoutMs);
      expect(durationMs(renderer.stop_grace_period)).toBeGreaterThan(timeout);
    });

    it('takes the admin token from the host environment, never a committed value', () => {
      expect(environmentOf(renderer).CACHE_ADMIN_TOKEN).toMatch(
        /^\$\{CACHE_ADMIN_TOKEN(?::?-)?\}$/,
      );
    });
  });
});
