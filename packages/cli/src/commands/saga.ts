/**
 * `ballast saga …`: in-flight sagas of a name, one saga's state and step timeline, the dead-letter queue of
 * failed compensations, retrying its entries and cancelling a saga. The CLI runs no saga code: a retry reopens
 * the entry (one store script, as `orchestrator.retryDeadLetter` does) leased for a moment, and the recovery
 * sweeper of the service that defines the saga compensates it; a cancel sets the flag the saga's owner sees at
 * its next lease renewal.
 */
import type { CompensationOutcome, DeadLetter, RedisSagaStore, SagaRecord } from '@ballast/saga';
import type { Command } from 'commander';
import { actOnEach } from '../batch';
import { confirmOrAbort, type DestructiveOptions } from '../confirm';
import { type ConnectionOptions, prefixOf, withRedis } from '../connect';
import { CliError, EXIT, type Io, type OutputOptions, positiveInt, print } from '../io';

type Opts = ConnectionOptions & OutputOptions & { sagaPartitions?: number };

/** The owner name a reopened entry is leased to: the lease lasts 1 ms, so any sweeper may claim it at once. */
const CLI_OWNER = `ballast-cli:${process.pid}`;

async function withStore<T>(o: Opts, fn: (store: RedisSagaStore) => Promise<T>): Promise<T> {
  const { RedisSagaStore } = await import('@ballast/saga');
  return withRedis(o, async (redis) => {
    const store = new RedisSagaStore({
      redis,
      prefix: prefixOf(o),
      commandTimeoutMs: o.timeout ?? 5_000,
      ...(o.sagaPartitions ? { partitions: o.sagaPartitions } : {}),
    });
    return fn(store);
  });
}

const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : '');
const json = (text: string | undefined): unknown => (text === undefined ? undefined : JSON.parse(text));

const sagaRow = (r: SagaRecord) => ({
  id: r.id,
  saga: `${r.saga} v${r.definitionVersion}`,
  status: r.cancelReason !== undefined ? `${r.status} (cancel requested)` : r.status,
  step: r.currentStep,
  owner: r.owner,
  lease: iso(r.leaseUntil),
  updated: iso(r.updatedAt),
});

const letterRow = (d: DeadLetter) => ({
  id: d.id,
  saga: `${d.saga} ${d.sagaId}`,
  step: d.step,
  reason: d.reason ?? 'compensation_failed',
  at: iso(d.at),
  error: (json(d.error) as { message?: string } | undefined)?.message ?? d.error,
});

/** A saga as stored, with its JSON fields parsed (what `--json` prints for `saga show`). */
function parsed(r: SagaRecord) {
  return {
    ...r,
    context: json(r.context),
    error: json(r.error),
    compensations: json(r.compensations) as CompensationOutcome[] | undefined,
  };
}

/** The step timeline of `saga show`: what ran, what is in doubt, what was undone and how. */
function timeline(r: SagaRecord) {
  const p = parsed(r);
  const rows: Record<string, unknown>[] = r.executedSteps.map((step) => ({ step, event: 'executed' }));
  for (const step of r.inDoubtSteps) rows.push({ step, event: 'in doubt (outcome unknown)' });
  if (r.failedStep)
    rows.push({ step: r.failedStep, event: `failed: ${(p.error as { message?: string })?.message ?? ''}` });
  for (const c of p.compensations ?? []) {
    const how = `${c.result}${c.inDoubt ? ' (in doubt)' : ''}${c.attempts > 1 ? ` after ${c.attempts} tries` : ''}`;
    rows.push({ step: c.step, event: `compensation ${how}${c.error ? `: ${c.error.message}` : ''}` });
  }
  if (!p.compensations) for (const step of r.compensatedSteps) rows.push({ step, event: 'compensated' });
  return rows;
}

export function sagaCommands(program: Command, io: Io, global: () => Opts): void {
  const saga = program
    .command('saga')
    .description('sagas of @ballast/saga on Redis')
    .option(
      '--saga-partitions <n>',
      'the recovery-index partitions the services use (default 16)',
      positiveInt('--saga-partitions'),
    );
  const opts = () => ({ ...global(), ...saga.opts() }) as Opts;

  saga
    .command('list <name>')
    .description('in-flight sagas of a name (running, compensating), oldest write first; the next page with --cursor')
    .option('--status <status>', 'running or compensating (default both)')
    .option('--older-than <ms>', 'only sagas not written for this long (stuck ones)', positiveInt('--older-than'))
    .option('--cursor <cursor>', "the previous page's cursor")
    .option('--limit <n>', 'page size', positiveInt('--limit'), 50)
    .action(async (name: string, c: { status?: string; olderThan?: number; cursor?: string; limit: number }) => {
      if (c.status !== undefined && c.status !== 'running' && c.status !== 'compensating') {
        throw new CliError(`--status must be running or compensating, got "${c.status}"`, EXIT.usage);
      }
      const o = opts();
      const page = await withStore(o, (s) =>
        s.list({
          names: [name],
          limit: c.limit,
          ...(c.status ? { status: c.status as 'running' | 'compensating' } : {}),
          ...(c.olderThan ? { olderThanMs: c.olderThan } : {}),
          ...(c.cursor ? { cursor: c.cursor } : {}),
        }),
      );
      print(io, o, { sagas: page.sagas.map(parsed), cursor: page.cursor }, page.sagas.map(sagaRow));
      if (!o.json && page.cursor) io.err(`more: --cursor ${page.cursor}`);
    });

  saga
    .command('show <sagaId>')
    .description("one saga's state and its step timeline (executed, in doubt, failed, compensations)")
    .action(async (id: string) => {
      const o = opts();
      const r = await withStore(o, (s) => s.get(id));
      if (!r) throw new CliError(`no saga ${id}`, EXIT.notFound);
      if (o.json) {
        print(io, o, { ...parsed(r), timeline: timeline(r) });
        return;
      }
      print(io, o, r, [sagaRow(r)]);
      print(io, o, null, timeline(r));
    });

  const dlq = saga.command('dlq').description('dead letters: compensations that failed every retry');
  dlq
    .command('list')
    .description('dead letters, oldest first, one page (the next page with --after)')
    .option('--after <id>', 'the last id of the previous page')
    .option('--limit <n>', 'page size', positiveInt('--limit'), 50)
    .action(async (c: { after?: string; limit: number }) => {
      const o = opts();
      const letters = await withStore(o, (s) =>
        s.listDeadLetters({ count: c.limit, ...(c.after ? { after: c.after } : {}) }),
      );
      print(io, o, letters, letters.map(letterRow));
      if (!o.json && letters.length === c.limit) io.err(`more: --after ${letters.at(-1)!.id}`);
    });

  saga
    .command('retry <entryIds...>')
    .description(
      "retries dead-lettered compensations: each entry's saga goes back to compensating, and the recovery sweeper of the service defining it compensates it at its next sweep",
    )
    .option('--dry-run', 'say what would be retried, change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (ids: string[], c: DestructiveOptions) => {
      const o = opts();
      await withStore(o, async (s) => {
        const done = await actOnEach(
          io,
          { ...o, ...c },
          `retry ${ids.length} saga dead letter(s)`,
          ids,
          (id) => s.reopenDeadLetter(id, CLI_OWNER, 1),
          'reopening',
        );
        if (!done) return;
        const rows = done.map(({ id, result }) => ({
          entry: id,
          saga: result.ok ? result.record.id : '',
          result: result.ok ? 'compensating: handed to the recovery sweepers' : `refused: ${result.reason}`,
        }));
        print(io, o, rows, rows);
        const refused = done.flatMap(({ id, result }) => (result.ok ? [] : [{ id, reason: result.reason }]));
        if (refused.length) {
          const missingOnly = refused.every((r) => r.reason === 'missing');
          throw new CliError(
            `not retried: ${refused.map((r) => `${r.id} (${r.reason})`).join(', ')}`,
            missingOnly ? EXIT.notFound : EXIT.failure,
          );
        }
      });
    });

  saga
    .command('cancel <sagaId>')
    .description('asks for a running saga to be cancelled: its owner aborts the step and compensates what completed')
    .option('-m, --reason <why>', 'recorded with the saga', 'cancelled by an operator (ballast CLI)')
    .option('--dry-run', 'say what would be cancelled, change nothing')
    .option('-y, --yes', 'do not ask for confirmation')
    .action(async (id: string, c: DestructiveOptions & { reason: string }) => {
      const o = opts();
      await withStore(o, async (s) => {
        const r = await s.get(id);
        if (!r) throw new CliError(`no saga ${id}`, EXIT.notFound);
        if (!(await confirmOrAbort(io, { ...o, ...c }, `cancel saga ${id} (${r.saga}, ${r.status})`))) return;
        const flagged = await s.requestCancel(id, c.reason);
        if (!flagged) throw new CliError(`saga ${id} is ${r.status}: nothing to cancel`, EXIT.notFound);
        print(io, o, { sagaId: id, cancelRequested: true }, [{ saga: id, cancel: 'requested' }]);
      });
    });
}
