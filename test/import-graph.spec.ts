// The shape docs/development.md promises a newcomer: no import cycles between the library's files,
// and short chains of imports (a change deep down reaches the module through few files). Only
// imports that load code count: `import type` and type-only names are erased by the compiler.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const SRC = resolve(__dirname, '..', 'src');
const MODULE = join(SRC, 'redis-cache.module.ts');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /(?<!\.spec|\.d)\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** The library files `file` loads at run time. */
function runtimeImports(file: string, known: Set<string>): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const found: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue;
    const specifier = statement.moduleSpecifier;
    if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      if (clause?.isTypeOnly) continue;
      const named = clause?.namedBindings;
      const onlyTypes =
        clause && !clause.name && named && ts.isNamedImports(named)
          ? named.elements.length > 0 && named.elements.every((element) => element.isTypeOnly)
          : false;
      if (onlyTypes) continue;
    } else if (statement.isTypeOnly) {
      continue;
    }
    const target = resolve(dirname(file), specifier.text);
    const match = [`${target}.ts`, join(target, 'index.ts')].find((path) => known.has(path));
    if (match) found.push(match);
  }
  return found;
}

const files = sourceFiles(SRC);
const known = new Set(files);
const graph = new Map(files.map((file) => [file, runtimeImports(file, known)]));

/** The longest chain of imports from `file`, itself included; throws on a cycle. */
function longestChain(file: string, memo = new Map<string, string[]>(), path: string[] = []) {
  if (path.includes(file)) {
    const cycle = [...path.slice(path.indexOf(file)), file].map((f) => relative(SRC, f));
    throw new Error(`import cycle: ${cycle.join(' -> ')}`);
  }
  const cached = memo.get(file);
  if (cached) return cached;
  let longest: string[] = [];
  for (const next of graph.get(file) ?? []) {
    const chain = longestChain(next, memo, [...path, file]);
    if (chain.length > longest.length) longest = chain;
  }
  const chain = [file, ...longest];
  memo.set(file, chain);
  return chain;
}

describe('the library’s imports', () => {
  it('read every file (the graph is not empty)', () => {
    expect(graph.get(MODULE)?.length).toBeGreaterThan(5);
  });

  it('have no cycles', () => {
    for (const file of files) expect(() => longestChain(file)).not.toThrow();
  });

  it.each([
    ['redis-cache.module.ts', 6],
    ['index.ts', 7],
  ])('reach any file from %s through a chain of at most %i files', (entry, most) => {
    const chain = longestChain(join(SRC, entry));
    const shown = chain.map((file) => relative(SRC, file)).join(' -> ');
    expect(chain.length <= most ? 'short enough' : shown).toBe('short enough');
  });
});
