// `npm run check:imports`: fails when the project's modules import each other in a circle (type
// imports included: a cycle of types is still a knot in the design). Reads imports with the
// TypeScript compiler's pre-processor; follows relative specifiers only.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { projectRoot } from '../common/config.ts';

const roots = ['common', 'workflows', 'activities', 'workers', 'client', 'contracts', 'scripts', 'bench', 'test'];

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'histories' ? [] : sourceFiles(full);
    return /\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** The project files a file imports (relative specifiers, resolved to files that exist). */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map((i) => i.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => path.resolve(path.dirname(file), spec))
    .filter((target) => fs.existsSync(target));
}

/** Strongly connected components of more than one file (Tarjan), i.e. every import cycle. */
export function importCycles(files: string[]): string[][] {
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(component);
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return cycles;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = roots.filter((r) => fs.existsSync(path.join(projectRoot, r))).flatMap((r) => sourceFiles(path.join(projectRoot, r)));
  const cycles = importCycles(files);
  for (const cycle of cycles) console.error(`import cycle: ${cycle.map((f) => path.relative(projectRoot, f)).join(' <-> ')}`);
  console.log(`${files.length} files, ${cycles.length} import cycles`);
  process.exit(cycles.length > 0 ? 1 : 0);
}
