// Preloaded (node --require) into a benchmark's app processes to run them on NestJS 12: every
// `@nestjs/*` package the repo's code asks for resolves from test/nestjs-12/node_modules, the
// workspace the NestJS 12 test run uses, instead of the root's NestJS 11. NestJS 12's own files
// find each other there anyway. It hooks Node's CommonJS resolver: a benchmark tool, not library code.
import Module from 'node:module';
import { join } from 'node:path';
import { NESTJS_12_WORKSPACE } from './paths';

const NEST_PACKAGE = /^@nestjs\/(common|core|platform-express|platform-fastify|testing)(\/|$)/;

type Resolve = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
const resolver = Module as unknown as { _resolveFilename: Resolve };
const resolveFilename = resolver._resolveFilename;

// The workspace's own require: resolution from there finds NestJS 12 first.
const fromWorkspace = Module.createRequire(join(NESTJS_12_WORKSPACE, 'package.json'));
let redirecting = false;

resolver._resolveFilename = function (request, parent, isMain, options) {
  if (redirecting || !NEST_PACKAGE.test(request)) {
    return resolveFilename.call(this, request, parent, isMain, options);
  }
  redirecting = true;
  try {
    return fromWorkspace.resolve(request);
  } finally {
    redirecting = false;
  }
};
