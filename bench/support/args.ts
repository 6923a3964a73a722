/** Minimal `--flag`, `--key value` and `--key=value` parsing for the bench scripts. */
export class Args {
  private readonly values = new Map<string, string | true>();

  constructor(argv: readonly string[] = process.argv.slice(2)) {
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i];
      if (!arg.startsWith('--')) throw new Error(`Unexpected argument ${JSON.stringify(arg)}`);
      const eq = arg.indexOf('=');
      if (eq > 0) {
        this.values.set(arg.slice(2, eq), arg.slice(eq + 1));
      } else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) {
        this.values.set(arg.slice(2), argv[++i]);
      } else {
        this.values.set(arg.slice(2), true);
      }
    }
  }

  flag(name: string): boolean {
    return this.values.get(name) === true || this.values.get(name) === 'true';
  }

  string(name: string): string | undefined {
    const value = this.values.get(name);
    return typeof value === 'string' ? value : undefined;
  }

  required(name: string): string {
    const value = this.string(name);
    if (value === undefined) throw new Error(`Missing --${name}`);
    return value;
  }

  number(name: string, fallback: number): number {
    const value = this.string(name);
    if (value === undefined) return fallback;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a number > 0`);
    return parsed;
  }

  list(name: string, fallback: readonly string[], allowed?: readonly string[]): string[] {
    const value = this.string(name);
    const items = value === undefined ? [...fallback] : value.split(',').filter(Boolean);
    for (const item of items) {
      if (allowed && !allowed.includes(item)) {
        throw new Error(
          `--${name}: unknown ${JSON.stringify(item)} (one of ${allowed.join(', ')})`,
        );
      }
    }
    return items;
  }

  /** Names given that are not in `known`: a typo should fail, not be ignored. */
  assertKnown(known: readonly string[]): void {
    const unknown = [...this.values.keys()].filter((name) => !known.includes(name));
    if (unknown.length > 0)
      throw new Error(`Unknown option(s): ${unknown.map((n) => `--${n}`).join(', ')}`);
  }
}
