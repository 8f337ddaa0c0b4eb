/** `ballast bus …`: consumer groups of an event type (pending, lag, consumers) and its dead-letter queue. */
import type { DeadLetter, EventBus } from '@ballast/event-bus';
import type { Command } from 'commander';
import { actOnEach } from '../batch';
import type { DestructiveOptions } from '../confirm';
import { type ConnectionOptions, prefixOf, withRedis } from '../connect';
import { CliError, EXIT, type Io, type OutputOptions, positiveInt, print } from '../io';

type Opts = ConnectionOptions & OutputOptions;

async function withBus<T>(o: Opts, fn: (bus: EventBus<Record<string, never>>) => Promise<T>): Promise<T> {
  const { createEventBus } = await import('@ballast/event-bus');
  return withRedis(o, async (redis) => {
    // No schemas: the CLI reads and replays entries as stored, whatever their type.
    const bus = createEventBus({ redis, prefix: prefixOf(o), source: 'ballast-cli', events: {} });
    try {
      return await fn(bus);
    } finally {
      await bus.close();
    }
  });
}

const letterRow = (d: DeadLetter) => ({
  id: d.id,
  original: d.originalId,
  group: d.group,
  deliveries: d.deliveries,
  dead: new Date(d.deadAt).toISOString(),
  reason: d.reason,
});

export function busCommands(program: Command, io: Io, global: () => Opts): void {
  const bus = program.command('bus').description('event streams of @ballast/event-bus on Redis');

  bus
    .command('groups <type>')
    .description('consumer groups of an event type: pending, lag, consumers')
    .action(async (type: string) => {
      const o = global();
      const groups = await withBus(o, (b) => b.groups(type as never));
      print(
        io,
        o,
        groups,
        groups.map((g) => ({
          group: g.name,
          pending: g.pending,
          lag: g.lag,
          consumers: g.consumers.map((c) => `${c.name} (${c.pending} pending, idle ${c.idleMs} ms)`).join('\n'),
        })),
      );
    });

  const dlq = bus.command('dlq').description("an event type's dead-letter queue");
  dlq
    .command('list <type>')
    .description('dead letters, oldest first, one page (the next page with --after)')
    .option('--after <id>', 'the last id of the previous page')
    .option('--limit <n>', 'page size', positiveInt('--limit'), 50)
    .action(async (type: string, c: { after?: string; limit: number }) => {
      const o = global();
      const letters = await withBus(o, (b) =>
        b.dlq.list(type as never, { count: c.limit, ...(c.after ? { after: c.after as never } : {}) }),
      );
      print(io, o, letters, letters.map(letterRow));
      if (!o.json && letters.length === c.limit) io.err(`more: --after ${letters.at(-1)!.id}`);
    });
  dlq
    .command('replay <type> [ids...]')
    .description('delivers dead letters again to the group that dead-lettered each; the ids given, or --all')
    .option('--all', 'replay every dead letter of the type')
    .option('--dry-run', 'say what would be replayed, change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (type: string, ids: string[], c: DestructiveOptions & { all?: boolean }) => {
      if (!ids.length && !c.all) throw new CliError('give dead-letter ids or --all', EXIT.usage);
      if (ids.length && c.all) throw new CliError('give dead-letter ids or --all, not both', EXIT.usage);
      const o = global();
      await withBus(o, async (b) => {
        let targets = ids;
        if (c.all) {
          targets = [];
          let after: string | undefined;
          for (;;) {
            const page = await b.dlq.list(type as never, { count: 500, ...(after ? { after: after as never } : {}) });
            targets.push(...page.map((d) => d.id));
            if (page.length < 500) break;
            after = page.at(-1)!.id;
          }
        } else {
          const found = await Promise.all(ids.map((id) => b.dlq.inspect(type as never, id as never)));
          const missing = ids.filter((_, i) => !found[i]);
          if (missing.length) throw new CliError(`no dead letters of ${type}: ${missing.join(', ')}`, EXIT.notFound);
        }
        const done = await actOnEach(
          io,
          { ...o, ...c },
          `replay ${targets.length} dead letter(s) of ${type}`,
          targets,
          (id) => b.dlq.replay(type as never, id as never),
          'replaying',
        );
        if (!done) return;
        const replayed = done.flatMap(({ id, result }) => (result ? [{ id, newId: result }] : []));
        print(io, o, { replayed }, replayed);
      });
    });
}
