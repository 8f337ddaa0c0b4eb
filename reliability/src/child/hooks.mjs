// Module hooks for chaos worker processes (registered by register.mjs, after tsx): `@ballast/<pkg>` resolves
// to the package's source, as it does under vitest, and `.lua` files load as text, as tsup's loader does.
import { readFile } from 'node:fs/promises';

const root = new URL('../../../', import.meta.url);
const PKG = /^@ballast\/([a-z-]+)(?:\/([a-z-]+))?$/;

export async function resolve(specifier, context, next) {
  const m = PKG.exec(specifier);
  if (m) {
    const url = new URL(`packages/${m[1]}/src/${m[2] ?? 'index'}.ts`, root);
    return next(url.href, context);
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.endsWith('.lua')) {
    const text = await readFile(new URL(url), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  return next(url, context);
}
