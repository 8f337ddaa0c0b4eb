import { spawnSync } from 'node:child_process';

/**
 * `rabbitmqctl --quiet …` for test setup, bounded: the CLI's own Erlang node has been seen to hang after doing its
 * work (a CI run waited 23 minutes on an `add_vhost` whose vhost already existed), so each try is killed after
 * 15 s and retried (its output returned); on a retry, "already exists" / "does not exist" mean the earlier try did it.
 */
export function rabbitmqctl(...args: string[]): string {
  let last = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    const r = spawnSync('rabbitmqctl', ['--quiet', ...args], {
      encoding: 'utf8',
      timeout: 20_000,
      killSignal: 'SIGKILL',
    });
    if (r.status === 0) return r.stdout;
    last = `${r.error?.message ?? ''} ${r.stderr ?? ''}`.trim();
    if (attempt > 1 && /already exists|does not exist|not_found/i.test(last)) return '';
  }
  throw new Error(`rabbitmqctl ${args.join(' ')} failed 3 times: ${last}`);
}
