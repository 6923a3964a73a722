// Command-line options of the bench scripts, parsed by node:util's parseArgs (strict: a typo in an
// option name fails instead of being ignored).
import { parseArgs } from 'node:util';

export class Args {
  private readonly values: Record<string, unknown>;

  /** `flags` take no value; every name in `options` takes one (`--key value` or `--key=value`). */
  constructor(
    flags: readonly string[],
    options: readonly string[],
    argv: readonly string[] = process.argv.slice(2),
  ) {
    const spec = Object.fromEntries([
      ...flags.map((name) => [name, { type: 'boolean' as const }]),
      ...options.map((name) => [name, { type: 'string' as const }]),
    ]);
    this.values = parseArgs({ args: [...argv], options: spec, strict: true }).values;
  }

  flag(name: string): boolean {
    return this.values[name] === true;
  }

  string(name: string): string | undefined {
    const value = this.values[name];
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
    if (!Number.isFinite(parsed) || parsed < 0) throw new Error(`--${name} must be a number ≥ 0`);
    return parsed;
  }

  list<T extends string>(name: string, fallback: readonly T[], allowed: readonly T[]): T[] {
    const value = this.string(name);
    const items = value === undefined ? [...fallback] : value.split(',').filter(Boolean);
    const unknown = items.filter((item) => !allowed.includes(item as T));
    if (unknown.length > 0) {
      throw new Error(`--${name}: unknown ${unknown.join(', ')} (one of ${allowed.join(', ')})`);
    }
    return items as T[];
  }
}
