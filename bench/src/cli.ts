import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable, runSuite, writeResult } from './harness';
import { loadSuites } from './suites/index';

const suites = await loadSuites();

const usage = `usage: npm run bench -- <suite|all> [--json] [--time ms] [--iterations n] [--warmup ms] [--filter text]
suites: ${Object.keys(suites).join(', ')}`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      time: { type: 'string', default: '2000' },
      iterations: { type: 'string', default: '200' },
      warmup: { type: 'string', default: '300' },
      filter: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [name] = positionals;
  if (values.help || !name) {
    console.log(usage);
    return name || values.help ? 0 : 2;
  }
  const names = name === 'all' ? Object.keys(suites) : [name];
  for (const n of names) {
    const suite = suites[n];
    if (!suite) {
      console.error(`unknown suite "${n}"\n${usage}`);
      return 2;
    }
    console.log(`\n${suite.name}: ${suite.description}`);
    const opts = {
      timeMs: Number(values.time),
      iterations: Number(values.iterations),
      warmupMs: Number(values.warmup),
      log: (l: string) => console.log(l),
      ...(values.filter ? { filter: values.filter } : {}),
    };
    for (const [k, v] of Object.entries({ time: opts.timeMs, iterations: opts.iterations, warmup: opts.warmupMs })) {
      if (!Number.isFinite(v) || v < 0) {
        console.error(`--${k} must be a non-negative number`);
        return 2;
      }
    }
    const result = await runSuite(suite, opts);
    console.log(`\n${formatTable(result)}\n`);
    if (values.json) {
      const file = join(import.meta.dirname, '..', 'results', `${suite.name}.json`);
      writeResult(file, result);
      console.log(`wrote ${file}`);
    }
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
