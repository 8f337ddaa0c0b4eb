// ESM and CommonJS copies of every package loaded in ONE process (what happens when an app imports Ballast
// while a dependency requires it) must share process-wide state: every `getX()` with a `setX()` beside it
// (default logger, shutdown registry, breaker registry, lock manager, …) returns the same object through both
// copies, and a `setX()` through one copy is what the other's `getX()` returns.
import { strict as assert } from 'node:assert';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const packages = JSON.parse(process.env.BALLAST_PACKAGES ?? '[]');
const checked = [];
for (const name of packages) {
  const esm = await import(name);
  const cjs = require(name);
  for (const key of Object.keys(esm)) {
    const setter = `set${key.slice(3)}`;
    if (!/^get[A-Z]/.test(key) || typeof esm[key] !== 'function' || esm[key].length !== 0) continue;
    if (typeof esm[setter] !== 'function' || typeof cjs[key] !== 'function') continue;
    assert.notEqual(esm[key], cjs[key], `${name}: ESM and CJS builds are one module instance; nothing to test`);
    let shared;
    try {
      shared = esm[key]();
    } catch (error) {
      // No implicit default (the lock manager): both copies must refuse alike, and a value set through one
      // copy is what the other returns.
      assert.throws(() => cjs[key](), { code: error.code }, `${name}: ${key}() refuses in ESM but not in CJS`);
      const sentinel = { sentinel: key };
      cjs[setter](sentinel);
      assert.equal(esm[key](), sentinel, `${name}: ${setter}() through CJS is not seen by ESM`);
      cjs[setter](undefined);
      assert.throws(() => esm[key](), { code: error.code }, `${name}: ${setter}(undefined) through CJS is not seen`);
      checked.push(`${name}#${key}`);
      continue;
    }
    assert.equal(cjs[key](), shared, `${name}: ${key}() differs between the ESM and the CJS copy`);
    const previous = cjs[setter](shared); // set through the CJS copy …
    assert.equal(esm[key](), shared, `${name}: ${setter}() through CJS is not seen by ESM`);
    if (previous !== undefined) cjs[setter](previous);
    checked.push(`${name}#${key}`);
  }
}
assert.ok(checked.length > 0, 'no getX/setX pair found');
console.log(`dual ok: ${checked.join(', ')}`);
