/**
 * Holds requests at a point of their handling until the test opens the gate, so two requests'
 * steps can be interleaved deterministically. Handlers call `pass(id)` (an id from the request);
 * the test waits until the gate is `reached`, then `open`s it.
 */
export class Gates {
  private readonly gates = new Map<string, Gate>();
  private created = 0;

  create(): string {
    const id = `gate${++this.created}`;
    this.gates.set(id, new Gate());
    return id;
  }

  /** For handlers: resolves when the gate opens; at once for a request without a gate. */
  pass(id: unknown): Promise<void> {
    if (typeof id !== 'string' || id === '') return Promise.resolve();
    const gate = this.gate(id);
    gate.reached.resolve();
    return gate.opened.promise;
  }

  /** For handlers: says the work after the gate is done (for work that outlives the response). */
  finish(id: unknown): void {
    if (typeof id === 'string' && id !== '') this.gate(id).finished.resolve();
  }

  reached(id: string): Promise<void> {
    return within(this.gate(id).reached.promise, `${id} was never reached`);
  }

  finished(id: string): Promise<void> {
    return within(this.gate(id).finished.promise, `the work after ${id} never finished`);
  }

  open(id: string): void {
    this.gate(id).opened.resolve();
  }

  private gate(id: string): Gate {
    const gate = this.gates.get(id);
    if (!gate) throw new Error(`Unknown gate ${id}`);
    return gate;
  }
}

class Gate {
  readonly reached = deferred();
  readonly opened = deferred();
  readonly finished = deferred();
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

function within(promise: Promise<void>, what: string, ms = 5000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Gate timeout: ${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
