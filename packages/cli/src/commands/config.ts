/**
 * `ballast config …` on a config-center remote layer (the Redis hash `redisHash({ name })` writes, or Consul KV
 * under a prefix): the current entries, the recorded versions, a diff between two, and rollback (a new version
 * restoring an old one, as `config.rollback` does). Values of secret-looking keys are redacted unless
 * `--show-secrets`.
 */
import type { ConfigStore, VersionRecord } from '@ballast/config-center';
import type { Command } from 'commander';
import { confirmOrAbort, type DestructiveOptions } from '../confirm';
import { type ConnectionOptions, prefixOf, withRedis } from '../connect';
import { CliError, EXIT, type Io, type OutputOptions, print } from '../io';

type Opts = ConnectionOptions & OutputOptions & { consul?: string; consulPrefix?: string; showSecrets?: boolean };

/** Keys whose values are never printed unless asked: the last path segment names a secret. */
const SECRET = /(pass(word)?|secret|token|api[_-]?key|private[_-]?key|credentials?)$/i;

export function redact(entries: Record<string, unknown>, show = false): Record<string, unknown> {
  if (show) return entries;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entries)) out[k] = SECRET.test(k.split(/[./]/).at(-1) ?? k) ? '<redacted>' : v;
  return out;
}

async function withStore<T>(o: Opts, name: string, fn: (store: ConfigStore) => Promise<T>): Promise<T> {
  const { ConsulConfigStore, RedisConfigStore } = await import('@ballast/config-center');
  const consul = o.consul ?? process.env.CONSUL_HTTP_ADDR;
  if (consul) {
    const url = /^https?:\/\//.test(consul) ? consul : `http://${consul}`;
    const store = new ConsulConfigStore({ url, prefix: o.consulPrefix ?? `services/${name}/` });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  }
  return withRedis(o, async (redis) => {
    const store = new RedisConfigStore({ redis, name, prefix: prefixOf(o) });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  });
}

async function version(store: ConfigStore, name: string, v: number): Promise<VersionRecord> {
  const record = await store.getVersion(v);
  if (!record) throw new CliError(`config ${name} has no recorded version ${v}`, EXIT.notFound);
  return record;
}

const versionArg = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`a version is a positive integer, got "${v}"`, EXIT.usage);
  return n;
};

/** Keys added, removed and changed from `a` to `b`. */
export function diffEntries(a: Record<string, unknown>, b: Record<string, unknown>) {
  const rows: { key: string; change: 'added' | 'removed' | 'changed'; from?: unknown; to?: unknown }[] = [];
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const inA = key in a;
    const inB = key in b;
    if (inA && !inB) rows.push({ key, change: 'removed', from: a[key] });
    else if (!inA && inB) rows.push({ key, change: 'added', to: b[key] });
    else if (JSON.stringify(a[key]) !== JSON.stringify(b[key]))
      rows.push({ key, change: 'changed', from: a[key], to: b[key] });
  }
  return rows;
}

export function configCommands(program: Command, io: Io, global: () => Opts): void {
  const config = program
    .command('config')
    .description('a config-center remote layer (Redis, or Consul KV with --consul / CONSUL_HTTP_ADDR)');

  config
    .command('show <name>')
    .description('the current version and its entries')
    .action(async (name: string) => {
      const o = global();
      const state = await withStore(o, name, (s) => s.read());
      const entries = redact(state.entries, o.showSecrets);
      print(
        io,
        o,
        { version: state.version, entries },
        Object.entries(entries).map(([key, value]) => ({ key, value })),
      );
      if (!o.json) io.err(`version ${state.version}`);
    });

  config
    .command('history <name>')
    .description('recorded versions, newest first')
    .action(async (name: string) => {
      const o = global();
      const history = await withStore(o, name, (s) => s.history());
      print(
        io,
        o,
        history.map((r) => ({ ...r, entries: redact(r.entries, o.showSecrets) })),
        history.map((r) => ({
          version: r.version,
          at: new Date(r.at).toISOString(),
          keys: Object.keys(r.entries).length,
          rollbackOf: r.rollbackOf ?? '',
          message: r.message ?? '',
        })),
      );
    });

  config
    .command('diff <name> <from> [to]')
    .description('what changed from one version to another (default: to the current one)')
    .action(async (name: string, from: string, to: string | undefined) => {
      const o = global();
      const rows = await withStore(o, name, async (s) => {
        const a = await version(s, name, versionArg(from));
        const b = to === undefined ? await s.read() : await version(s, name, versionArg(to));
        return diffEntries(redact(a.entries, o.showSecrets), redact(b.entries, o.showSecrets));
      });
      print(io, o, rows, rows);
    });

  config
    .command('rollback <name> <version>')
    .description('makes a recorded version current again, as a new version')
    .option('-m, --message <text>', 'why (kept in the history)')
    .option('--dry-run', 'show what would change, change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (name: string, v: string, c: DestructiveOptions & { message?: string }) => {
      const o = global();
      const target = versionArg(v);
      await withStore(o, name, async (s) => {
        const record = await version(s, name, target);
        const current = await s.read();
        const changes = diffEntries(redact(current.entries, o.showSecrets), redact(record.entries, o.showSecrets));
        if (
          !(await confirmOrAbort(
            io,
            c,
            `roll ${name} back from version ${current.version} to ${target} (${changes.length} change(s))`,
          ))
        ) {
          print(io, o, { dryRun: true, changes }, changes);
          return;
        }
        const made = await s.commit(current.version, record.entries, {
          at: Date.now(),
          rollbackOf: target,
          message: c.message ?? `ballast config rollback to ${target}`,
        });
        print(io, o, { version: made.version, rollbackOf: target, changes }, [
          { version: made.version, rollbackOf: target, changes: changes.length },
        ]);
      });
    });
}
