// Diagnostic preload, never used by default: replaces AsyncResource.bind with an equivalent that
// skips the deprecated `asyncResource` accessors Node attaches to every bound function (DEP0172,
// built with util.deprecate on each call). Nest 11's interceptor pipeline calls AsyncResource.bind
// twice per interceptor per request, so this shows what those accessors cost:
//   npm run bench:injection -- --variants diag-noop-interceptor \
//     --node-args="--require ./bench/dist/bench/tools/cheap-async-resource-bind.js" --out /tmp/x
import { AsyncResource } from 'node:async_hooks';

type AnyFunction = (...args: unknown[]) => unknown;

AsyncResource.bind = function bind<Func extends AnyFunction>(
  fn: Func,
  type?: string,
  thisArg?: unknown,
): Func {
  const resource = new AsyncResource(type || fn.name || 'bound-anonymous-fn');
  return function (this: unknown, ...args: unknown[]) {
    return resource.runInAsyncScope(fn, thisArg === undefined ? this : thisArg, ...args);
  } as Func;
};
