/** `ballast lock …`: locks held on Redis (holders, fencing tokens, time left, fair waiters) and a forced release. */
import type { LockInfo, LockInspector } from '@ballast/lock';
import type { Command } from 'commander';
import { actOnEach } from '../batch';
import type { DestructiveOptions } from '../confirm';
import { type ConnectionOptions, prefixOf, withRedis } from '../connect';
import { CliError, EXIT, type Io, type OutputOptions, positiveInt, print } from '../io';

type Opts = ConnectionOptions & OutputOptions;

async function withInspector<T>(o: Opts, fn: (inspector: LockInspector) => Promise<T>): Promise<T> {
  const { LockInspector } = await import('@ballast/lock');
  return withRedis(o, (redis) =>
    fn(new LockInspector({ redis, prefix: prefixOf(o), commandTimeoutMs: o.timeout ?? 5_000 })),
  );
}

const lockRow = (l: LockInfo) => ({
  resource: l.resource,
  mode: l.mode ?? 'free',
  holders: l.holders.map((h) => `${h.token}${h.count > 1 ? ` ×${h.count}` : ''}`).join('\n'),
  fence: l.holders.map((h) => h.fencingToken).join('\n'),
  'ttl ms': l.holders.map((h) => h.ttlMs).join('\n'),
  waiting: l.waiters.length,
});

export function lockCommands(program: Command, io: Io, global: () => Opts): void {
  const lock = program.command('lock').description('locks of @ballast/lock on Redis');

  lock
    .command('list')
    .description('held locks (and locks with waiters), by resource name')
    .option('--match <glob>', 'resource names matching a glob, e.g. "order:*"')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'), 100)
    .action(async (c: { match?: string; limit: number }) => {
      const o = global();
      const locks = await withInspector(o, (i) => i.list({ limit: c.limit, ...(c.match ? { match: c.match } : {}) }));
      print(io, o, locks, locks.map(lockRow));
    });

  lock
    .command('show <resource>')
    .description('one lock: each holder (token, reentrant count, fencing token, ms left) and the fair-queue waiters')
    .action(async (resource: string) => {
      const o = global();
      const info = await withInspector(o, (i) => i.show(resource));
      if (!info) throw new CliError(`${resource} is not held and nobody waits for it`, EXIT.notFound);
      print(io, o, info, [lockRow(info)]);
      if (!o.json && info.waiters.length)
        print(
          io,
          o,
          null,
          info.waiters.map((w) => ({ waiter: w.token, fair: w.queued, 'entry ttl ms': w.ttlMs })),
        );
    });

  lock
    .command('force-release <resources...>')
    .description(
      'frees locks whatever holds them (a stuck holder finds its lease lost at its next extend; the next fencing token is greater); a queued fair waiter gets the lock at once',
    )
    .option('--dry-run', 'say what would be released, change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (resources: string[], c: DestructiveOptions) => {
      const o = global();
      await withInspector(o, async (i) => {
        const done = await actOnEach(
          io,
          { ...o, ...c },
          `force-release ${resources.length} lock(s): ${resources.join(', ')}`,
          resources,
          (r) => i.forceRelease(r),
          'releasing',
        );
        if (!done) return;
        const rows = done.map(({ id, result }) => ({ resource: id, 'holders removed': result }));
        print(io, o, rows, rows);
      });
    });
}
