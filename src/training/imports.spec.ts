import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * training/ is the platform; recommend/, predict/ and anomaly/ define their model kinds on it, and
 * src/model-kinds.ts lists them (docs/training.md). One import from training/ into a domain, or
 * into the list that imports the domains, and the two depend on each other again.
 */
const SRC = resolve(__dirname, '..');
const TRAINING = join(SRC, 'training');
const OFF_LIMITS = ['recommend', 'predict', 'anomaly', 'model-kinds'].map((name) => join(SRC, name));

/** The module names a TypeScript file imports: `import … from`, `export … from`, `import '…'`, `import('…')`, `require('…')`. */
function importedModules(source: string): string[] {
  return [...source.matchAll(/\b(?:from|import|require)\s*\(?\s*['"]([^'"]+)['"]/g)].map((match) => match[1]);
}

function typeScriptFiles(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function reachesOffLimits(file: string, module: string): boolean {
  if (!module.startsWith('.')) return false; // a package
  const target = resolve(dirname(file), module);
  return OFF_LIMITS.some((folder) => target === folder || target.startsWith(folder + sep));
}

describe('imports run one way: domains → training/', () => {
  it('reads every form of import', () => {
    const source = [
      `import {\n  a,\n  b,\n} from '../recommend/a';`,
      `import type { C } from "../predict/c";`,
      `export { d } from '../anomaly/d';`,
      `import '../model-kinds';`,
      `const e = await import('../recommend/e');`,
      `type F = import('../ml/f').F;`,
      `const g = require('bullmq');`,
    ].join('\n');
    expect(importedModules(source)).toEqual(['../recommend/a', '../predict/c', '../anomaly/d', '../model-kinds', '../recommend/e', '../ml/f', 'bullmq']);
    const file = join(TRAINING, 'x.ts');
    expect(importedModules(source).map((module) => reachesOffLimits(file, module))).toEqual([true, true, true, true, true, false, false]);
    expect(reachesOffLimits(join(TRAINING, 'kinds', 'x.ts'), '../../recommend/a')).toBe(true);
    expect(reachesOffLimits(join(TRAINING, 'kinds', 'x.ts'), '../recommend/a')).toBe(false); // training/recommend/a
    expect(reachesOffLimits(file, '../recommendations/a')).toBe(false);
  });

  it('no file under src/training imports recommend/, predict/, anomaly/ or src/model-kinds.ts', () => {
    const files = typeScriptFiles(TRAINING).filter((file) => file !== __filename);
    expect(files.length).toBeGreaterThan(10);
    const against = files.flatMap((file) =>
      importedModules(readFileSync(file, 'utf8'))
        .filter((module) => reachesOffLimits(file, module))
        .map((module) => `${relative(SRC, file)} imports ${module}`),
    );
    expect(against).toEqual([]);
  });
});
