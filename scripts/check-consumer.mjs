#!/usr/bin/env node
// Consumer check: Ballast as a user installs it. Every published package is packed (as `pnpm publish` would),
// and the tarballs are installed into fresh projects OUTSIDE the workspace (os.tmpdir()): with npm and with
// pnpm (strict, isolated layout; peers strictly checked), once with the LOWEST and once with the HIGHEST
// version each package's peer ranges allow. In each project:
//   - the README check: every ```ts block of every README compiles (scripts/consumer/readme.mjs), and every
//     package a README's blocks import, and every peer the package needs, is on that README's install line;
//   - `tsc` under strict + exactOptionalPropertyTypes, standard decorators and, for the blocks that use them,
//     experimentalDecorators; the typed probe (scripts/consumer/probe.ts) among the files;
//   - the smoke script (scripts/consumer/smoke.mjs) run as ESM and as CommonJS, one call against real Redis;
//   - dual.mjs: the ESM and CJS builds loaded in one process share process-wide defaults (Symbol.for slots).
// npm's and pnpm's caches are used (--prefer-offline); peer versions come from `npm view <name>@<range>`.
// Usage: node scripts/check-consumer.mjs [--only npm|pnpm] [--level lowest|highest] [--keep]
import { spawn, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { importedPackages, installedByReadme, tsBlocks } from './consumer/readme.mjs';
import { resolvePnpm } from './pnpm.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');
const here = join(root, 'scripts', 'consumer');
const argv = process.argv.slice(2);
const opt = (name) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const keep = argv.includes('--keep');
const started = Date.now();
const pnpm = resolvePnpm();
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const failures = [];
const log = (msg) => console.log(`[consumer ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);

function run(cmd, args, cwd, { quiet = false, env } = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  if (r.status !== 0 || !quiet) {
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
    if (out && r.status !== 0) console.log(out);
  }
  return r.status === 0;
}

/**
 * The declaration check: errors in our declarations (or in what they make a peer's declarations see) fail it;
 * errors a peer's own lowest release has in its files whatever imports them (Nest 10.0's file validators under
 * exactOptionalPropertyTypes, rxjs 7.1 without types under NodeNext) are reported and left to that peer.
 */
function libCheck(name, dir, tsc, file) {
  const r = spawnSync(process.execPath, [tsc, '-p', file, '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
  const errors = `${r.stdout}`.split('\n').filter((l) => / error TS\d+:/.test(l));
  const theirs = errors.filter((l) => l.startsWith('node_modules/') && !/(^|\/)@ballast[/+]/.test(l.split('(')[0]));
  const ours = errors.filter((l) => !theirs.includes(l));
  if (theirs.length > 0)
    log(`${name}: ${theirs.length} errors inside peers' own declarations (not ours), e.g. ${theirs[0]}`);
  if (ours.length > 0 || (r.status !== 0 && errors.length === 0)) {
    console.log(ours.join('\n') || `${r.stdout}${r.stderr}`);
    failures.push(`${name}: tsc -p ${file}`);
  }
}

function runAsync(cmd, args, cwd) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    // stdout alone is the answer (npm prints config warnings on stderr when run under `npm test`); out is both.
    let out = '';
    let stdout = '';
    child.stdout.on('data', (d) => {
      out += d;
      stdout += d;
    });
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ ok: code === 0, out, stdout }));
  });
}

// 1. The published packages, packed.
const work = mkdtempSync(join(tmpdir(), 'ballast-consumer-'));
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
const packages = [];
for (const dir of readdirSync(join(root, 'packages')).sort()) {
  const file = join(root, 'packages', dir, 'package.json');
  if (!existsSync(file)) continue;
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  if (pkg.private) continue;
  packages.push({ dir, pkg, readme: join(root, 'packages', dir, 'README.md') });
}
await Promise.all(
  packages.map(async (p) => {
    const before = Date.now();
    const r = await runAsync(
      pnpm.cmd,
      [...pnpm.args, 'pack', '--pack-destination', tarballs],
      join(root, 'packages', p.dir),
    );
    if (!r.ok) throw new Error(`pnpm pack ${p.pkg.name} failed:\n${r.out}`);
    p.tarball = join(tarballs, r.stdout.trim().split('\n').pop().split('/').pop());
    if (!existsSync(p.tarball))
      throw new Error(`pnpm pack ${p.pkg.name}: no tarball at ${p.tarball} (${Date.now() - before} ms)`);
  }),
);
const ours = new Set(packages.map((p) => p.pkg.name));
log(`packed ${packages.length} packages: ${[...ours].join(', ')}`);

// 2. Peers. Required ones: the lowest and the highest published version inside every package's range.
// Optional ones (README blocks use them: vitest, typescript, an OTel SDK): pinned at the version the workspace
// tests with, and their own peer ranges narrow the required peers' (e.g. the SDK's on @opentelemetry/api).
const required = new Map();
const optional = new Map();
for (const { pkg } of packages) {
  for (const [name, range] of Object.entries(pkg.peerDependencies ?? {})) {
    if (ours.has(name)) continue;
    const into = pkg.peerDependenciesMeta?.[name]?.optional ? optional : required;
    if (!into.has(name)) into.set(name, new Set());
    into.get(name).add(range);
  }
}
for (const name of required.keys()) optional.delete(name);
// Registry answers are cached for a day (node_modules/.cache): the check runs on every `npm test`.
const viewCacheFile = join(root, 'node_modules', '.cache', 'ballast-consumer-npm-view.json');
const viewCache = existsSync(viewCacheFile) ? JSON.parse(readFileSync(viewCacheFile, 'utf8')) : {};
const npmView = async (spec, field) => {
  const cached = viewCache[`${spec} ${field}`];
  if (cached && Date.now() - cached.at < 86_400_000) return cached.value;
  const r = await runAsync('npm', ['view', spec, field, '--json'], work);
  if (!r.ok) throw new Error(`npm view ${spec} ${field} failed:\n${r.out}`);
  const value = r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
  viewCache[`${spec} ${field}`] = { at: Date.now(), value };
  return value;
};
const peerVersions = {};
await Promise.all(
  [...optional.keys()].map(async (name) => {
    const version = workspaceVersion(name);
    if (!version) throw new Error(`optional peer ${name}: no version of it in the workspace to test with`);
    peerVersions[name] = { lowest: version, highest: version, ranges: ['workspace'] };
    for (const [peer, range] of Object.entries((await npmView(`${name}@${version}`, 'peerDependencies')) ?? {})) {
      if (required.has(peer)) required.get(peer).add(range);
    }
  }),
);
await Promise.all(
  [...required].map(async ([name, set]) => {
    let common;
    for (const range of set) {
      const parsed = (await npmView(`${name}@${range}`, 'version')) ?? [];
      const list = Array.isArray(parsed) ? parsed : [parsed];
      common = common ? common.filter((v) => list.includes(v)) : list;
    }
    common?.sort(bySemver);
    if (!common?.length) throw new Error(`no ${name} version satisfies every peer range: ${[...set].join(' and ')}`);
    peerVersions[name] = { lowest: common[0], highest: common[common.length - 1], all: common, ranges: [...set] };
  }),
);

/** Whether `name@version`'s own peer ranges accept the versions this level installs of our required peers. */
async function peersAccept(name, version, level) {
  const peers = (await npmView(`${name}@${version}`, 'peerDependencies')) ?? {};
  return Object.entries(peers).every(([peer, range]) => {
    const chosen = peerVersions[peer];
    return !chosen || chosen.ranges[0] === 'workspace' || semver.satisfies(chosen[level], range);
  });
}

/** The newest release of `name` (newest of each major, newest major first) that `peersAccept` at this level. */
async function companionVersion(name, level) {
  const versions = ((await npmView(name, 'versions')) ?? []).filter((v) => semver.valid(v) && !semver.prerelease(v));
  const newestPerMajor = new Map();
  for (const v of versions.sort(semver.rcompare))
    if (!newestPerMajor.has(semver.major(v))) newestPerMajor.set(semver.major(v), v);
  for (const v of newestPerMajor.values()) if (await peersAccept(name, v, level)) return v;
  throw new Error(`${name}: no release whose peer ranges accept the ${level} peers`);
}

/** The version farthest from the installed one within its major: the highest for lowest, the lowest for highest. */
function otherCopy({ all, lowest, highest }, level) {
  const installed = level === 'lowest' ? lowest : highest;
  const same = all.filter((v) => v.split('.')[0] === installed.split('.')[0] && v !== installed);
  if (same.length === 0) return installed;
  return level === 'lowest' ? same[same.length - 1] : same[0];
}

/** Orders plain `x.y.z` versions (what `npm view name@range` lists: prereleases are outside ranges). */
function bySemver(a, b) {
  const [x, y] = [a, b].map((v) => v.split(/[.+-]/).slice(0, 3).map(Number));
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
}

/** The exact version the workspace installs of `name` (its node_modules), for optional peers. */
function workspaceVersion(name) {
  const dirs = [root, ...packages.map((p) => join(root, 'packages', p.dir))];
  for (const dir of dirs) {
    const file = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')).version;
  }
  return undefined;
}
mkdirSync(dirname(viewCacheFile), { recursive: true });
writeFileSync(viewCacheFile, JSON.stringify(viewCache));
for (const [name, v] of Object.entries(peerVersions))
  log(`peer ${name} (${v.ranges.join(' / ')}): ${v.lowest} … ${v.highest}`);

// 3. README blocks and install lines (checked once: they do not depend on the install).
const readmeFiles = [];
const extraImports = new Set();
for (const p of packages) {
  if (!existsSync(p.readme)) {
    failures.push(`${p.pkg.name}: no README.md`);
    continue;
  }
  const md = readFileSync(p.readme, 'utf8');
  const installed = installedByReadme(md);
  // A peer the package itself depends on (an application such as @ballast/cli) comes with it: no install needed.
  const own = new Set(Object.keys(p.pkg.dependencies ?? {}));
  const needed = new Set([p.pkg.name, ...[...requiredPeers(p.pkg)].filter((n) => !own.has(n))]);
  for (const block of tsBlocks(md)) {
    const where = `packages/${p.dir}/README.md:${block.line}`;
    for (const name of importedPackages(block.code)) {
      needed.add(name);
      if (!ours.has(name) && !peerVersions[name]) extraImports.add(name);
    }
    if (block.fragment) continue;
    const body = `// ${where}\n${block.code}\n`;
    for (const mode of block.modes) {
      const dir = mode === 'legacy' ? 'readme-legacy' : 'readme';
      readmeFiles.push({ path: join(dir, p.dir, `line-${block.line}.ts`), body, where });
    }
  }
  const missing = [...needed].filter((n) => !installed.has(n));
  if (missing.length > 0) failures.push(`packages/${p.dir}/README.md: install line lacks ${missing.join(', ')}`);
}
log(
  `${readmeFiles.length} README blocks to compile; imports beyond ours and peers: ${[...extraImports].join(', ') || 'none'}`,
);

/** The package's non-optional peers and those of the @ballast packages it depends on. */
function requiredPeers(pkg, seen = new Set()) {
  const out = new Set();
  if (seen.has(pkg.name)) return out;
  seen.add(pkg.name);
  for (const [name] of Object.entries(pkg.peerDependencies ?? {})) {
    if (!pkg.peerDependenciesMeta?.[name]?.optional) out.add(name);
  }
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    const p = packages.find((q) => q.pkg.name === dep);
    if (p) for (const n of requiredPeers(p.pkg, seen)) out.add(n);
  }
  return out;
}

// 4. One project per package manager and peer level.
const typesNode = JSON.parse(readFileSync(join(root, 'node_modules/@types/node/package.json'), 'utf8')).version;
const managers = opt('--only') ? [opt('--only')] : ['npm', 'pnpm'];
const levels = opt('--level') ? [opt('--level')] : ['lowest', 'highest'];
for (const pm of managers) {
  for (const level of levels) {
    const t0 = Date.now();
    const name = `${pm}-${level}`;
    const dir = join(work, name);
    mkdirSync(dir);
    const deps = { '@types/node': typesNode };
    for (const [peer, v] of Object.entries(peerVersions)) deps[peer] = v[level];
    // Optional peers and packages README blocks import (@nestjs/config…) at a version whose own peer ranges
    // accept this level's peers: Nest 10 at the lowest level needs the companions that support Nest 10.
    for (const [peer, v] of Object.entries(peerVersions)) {
      if (v.ranges[0] === 'workspace' && !(await peersAccept(peer, v[level], level))) {
        deps[peer] = await companionVersion(peer, level);
      }
    }
    for (const extra of extraImports) deps[extra] ??= await companionVersion(extra, level);
    // A second copy of ioredis, another version of the same major, under another name: the probe passes its
    // client to Ballast, whose declarations resolve the first copy. Two copies of ioredis's classes never fit
    // each other (private members, options naming connector classes); the members core's RedisClient takes do.
    // (Across majors one copy is what the peer dependency gives: 5.x and 6.x command overloads differ.)
    if (peerVersions.ioredis) deps['ioredis-other'] = `npm:ioredis@${otherCopy(peerVersions.ioredis, level)}`;
    for (const p of packages) deps[p.pkg.name] = `file:${p.tarball}`;
    const manifest = { name: `ballast-consumer-${name}`, private: true, type: 'module', dependencies: deps };
    // Our tarballs depend on each other by exact version: point those at the tarballs, never the registry.
    const overrides = Object.fromEntries(packages.map((p) => [p.pkg.name, `file:${p.tarball}`]));
    if (pm === 'npm') manifest.overrides = Object.fromEntries(packages.map((p) => [p.pkg.name, `$${p.pkg.name}`]));
    else manifest.pnpm = { overrides };
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    if (pm === 'pnpm') writeFileSync(join(dir, '.npmrc'), 'strict-peer-dependencies=true\nauto-install-peers=false\n');
    const ok =
      pm === 'npm'
        ? run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], dir)
        : run(pnpm.cmd, [...pnpm.args, 'install', '--prefer-offline', '--reporter=silent'], dir);
    if (!ok) {
      failures.push(`${name}: install`);
      continue;
    }
    log(`${name}: installed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    checkProject(name, dir);
    log(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

writeFileSync(viewCacheFile, JSON.stringify(viewCache)); // with the companions' answers too

function checkProject(name, dir) {
  for (const f of readmeFiles) {
    mkdirSync(dirname(join(dir, f.path)), { recursive: true });
    writeFileSync(join(dir, f.path), f.body);
  }
  for (const f of ['probe.ts', 'readme-ambient.d.ts', 'third-party.d.ts', 'smoke.mjs', 'dual.mjs'])
    copyFileSync(join(here, f), join(dir, f));
  // The same smoke program as CommonJS: require() instead of import().
  const smoke = readFileSync(join(here, 'smoke.mjs'), 'utf8');
  writeFileSync(
    join(dir, 'smoke.cjs'),
    smoke.replace('const load = (name) => import(name);', 'const load = async (name) => require(name);'),
  );
  const base = {
    target: 'ES2022',
    lib: ['ES2023', 'ESNext.Disposable', 'DOM'],
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    moduleDetection: 'force',
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    // What most projects set; the lowest-peer projects also check every declaration file (tsconfig.lib.json).
    skipLibCheck: true,
    types: ['node'],
  };
  // Every entry point of every package (exports map), its types loaded with skipLibCheck off: a declaration
  // of ours that names what a peer's lowest version lacks fails here instead of turning into `any`.
  const entries = packages.flatMap((p) =>
    Object.keys(p.pkg.exports ?? { '.': {} })
      .filter((k) => k !== './package.json')
      .map((k) => p.pkg.name + k.slice(1)),
  );
  writeFileSync(join(dir, 'entries.ts'), entries.map((e, i) => `export type * as e${i} from '${e}';\n`).join(''));
  const configs = {
    'tsconfig.json': { compilerOptions: base, include: ['probe.ts', '*.d.ts', 'readme/**/*.ts'] },
    'tsconfig.legacy.json': {
      compilerOptions: { ...base, experimentalDecorators: true, emitDecoratorMetadata: true },
      include: ['*.d.ts', 'readme-legacy/**/*.ts'],
    },
    'tsconfig.lib.json': { compilerOptions: { ...base, skipLibCheck: false }, include: ['entries.ts', '*.d.ts'] },
  };
  for (const [file, config] of Object.entries(configs)) {
    // Time on 2 cores: the decorator modes do not depend on the layout (npm projects only); the declaration
    // check is strictest with pnpm's layout (an undeclared import fails) and the lowest peers (pnpm-lowest only).
    if (
      file === 'tsconfig.legacy.json' &&
      (!name.startsWith('npm') || !readmeFiles.some((f) => f.path.startsWith('readme-legacy')))
    )
      continue;
    if (file === 'tsconfig.lib.json' && name !== 'pnpm-lowest' && managers.length * levels.length > 1) continue;
    writeFileSync(join(dir, file), `${JSON.stringify(config, null, 2)}\n`);
    const t = Date.now();
    if (file === 'tsconfig.lib.json') libCheck(name, dir, tsc, file);
    else if (!run(process.execPath, [tsc, '-p', file, '--pretty', 'false'], dir))
      failures.push(`${name}: tsc -p ${file}`);
    log(`${name}: tsc -p ${file} ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  const env = { BALLAST_PACKAGES: JSON.stringify([...ours]) };
  for (const smoke of ['smoke.mjs', 'smoke.cjs', 'dual.mjs']) {
    if (!run(process.execPath, [smoke], dir, { env })) failures.push(`${name}: node ${smoke}`);
  }
}

if (!keep) rmSync(work, { recursive: true, force: true });
else log(`kept ${work}`);
const secs = ((Date.now() - started) / 1000).toFixed(1);
if (failures.length > 0) {
  console.error(`\n[consumer] problems (${secs} s):\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`\n[consumer] every package installs, typechecks and runs outside the workspace (${secs} s)`);
