import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The request the running code serves, for the injected `ContextualCache`. The store is the
 * request itself: each module instance resolves its own cache from it, so one storage serves every
 * app and module in the process. Created on first use, because on Node 20 an active
 * AsyncLocalStorage slows every `await` in the process: an app that never needs it never makes one.
 */
let storage: AsyncLocalStorage<object> | undefined;

/** Runs `fn`, and everything it starts, as serving `request`. */
export function runForRequest<R>(request: object, fn: () => R): R {
  storage ??= new AsyncLocalStorage();
  return storage.run(request, fn);
}

/** The request the running code serves, if any. */
export function currentRequest(): object | undefined {
  return storage?.getStore();
}
