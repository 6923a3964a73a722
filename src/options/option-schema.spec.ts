import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REDIS_CACHE_ENV_VARIABLES } from '../redis-cache.env';
import { DESCRIBED_OPTIONS, describedAt } from './option-schema';

const DOCS = join(__dirname, '..', '..', 'docs');
const docs = readdirSync(DOCS)
  .filter((file) => file.endsWith('.md') && !file.startsWith('benchmarks'))
  .map((file) => readFileSync(join(DOCS, file), 'utf8'))
  .join('\n');

describe('the options schema, the one description of every option', () => {
  it('says what every option and group expects', () => {
    const undescribed = DESCRIBED_OPTIONS.filter((option) => !option.info?.expected);
    expect(undescribed.map((option) => option.path.join('.'))).toEqual([]);
  });

  it('finds the option holding a nested path', () => {
    expect(describedAt('cluster.nodes.0.port')?.path).toEqual(['cluster', 'nodes']);
    expect(describedAt('tls.key')?.info.secret).toBe(true);
    expect(describedAt('nothing.here')).toBeUndefined();
  });

  it('gives each environment variable to one option', () => {
    expect(new Set(REDIS_CACHE_ENV_VARIABLES).size).toBe(REDIS_CACHE_ENV_VARIABLES.length);
  });

  it('is what the documentation describes: every option and variable has its entry', () => {
    // Written as `name`, `group.name`, or `name: value` in an example.
    const named = (name: string) => new RegExp(`[\x60.]${name}\\b|\\b${name}[:?,]`).test(docs);
    const options = DESCRIBED_OPTIONS.map((option) => option.path.at(-1)!);
    expect(options.filter((name) => !named(name))).toEqual([]);
    const table = readFileSync(join(DOCS, 'configuration.md'), 'utf8');
    expect(REDIS_CACHE_ENV_VARIABLES.filter((name) => !table.includes(`\`${name}\``))).toEqual([]);
  });
});
