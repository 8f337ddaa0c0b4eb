import { confirmOrAbort, type DestructiveOptions } from './confirm';
import { type Io, type OutputOptions, print } from './io';
import { progress } from './progress';

/**
 * The shape of every destructive command over a list of ids: confirm (or describe with `--dry-run`, printing
 * the ids), then act on each in turn with a progress bar on a terminal. Resolves with each id's result, or
 * undefined when nothing was done (dry run).
 */
export async function actOnEach<R>(
  io: Io,
  o: OutputOptions & DestructiveOptions,
  what: string,
  ids: readonly string[],
  act: (id: string) => Promise<R>,
  label = 'working',
): Promise<{ id: string; result: R }[] | undefined> {
  if (!(await confirmOrAbort(io, o, what))) {
    print(
      io,
      o,
      { dryRun: true, ids },
      ids.map((id) => ({ id })),
    );
    return undefined;
  }
  const bar = progress(io, ids.length, label, o.json);
  const done: { id: string; result: R }[] = [];
  try {
    for (const id of ids) {
      done.push({ id, result: await act(id) });
      bar.tick(1);
    }
  } finally {
    bar.stop();
  }
  return done;
}
