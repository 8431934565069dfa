// The import-cycle check in `npm test` finds a cycle when there is one, type imports included.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCycles } from '../scripts/checkImports.ts';

describe('import cycle check', () => {
  it('reports files that import each other, also through type imports, and nothing for a tree', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atelier-imports-'));
    const file = (name: string, text: string) => {
      fs.writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    const a = file('a.ts', "import { b } from './b.ts';\nexport const a = b;\n");
    const b = file('b.ts', "import type { C } from './c.ts';\nexport const b = 1 as unknown as C;\n");
    const c = file('c.ts', "import type { a } from './a.ts';\nexport type C = typeof a;\n");
    const leaf = file('leaf.ts', "import { a } from './a.ts';\nexport const leaf = a;\n");
    expect(importCycles([a, b, c, leaf]).map((cycle) => cycle.map((f) => path.basename(f)).sort())).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    fs.writeFileSync(c, 'export type C = number;\n');
    expect(importCycles([a, b, c, leaf])).toEqual([]);
  });
});
