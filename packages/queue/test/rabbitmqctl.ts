import { spawnSync } from 'node:child_process';

/**
 * `rabbitmqctl --quiet …` for test setup, bounded: the CLI's own Erlang node has been seen to hang after doing its
 * work (a CI run waited 23 minutes on an `add_vhost` whose vhost already existed), so each try is killed after
 * 20 s and retried (its output returned); on a retry, "already exists" / "does not exist" mean the earlier try did it.
 */
export function rabbitmqctl(...args: string[]): string {
  let last = '';
  // `delete_vhost` is tried once, with a longer bound: killing the CLI does not stop the deletion on the broker,
  // and a second delete of a vhost still being deleted wedged RabbitMQ 3.10 here for 11 minutes (every new
  // connection accepted and never answered), failing every later RabbitMQ test on the machine.
  const once = args[0] === 'delete_vhost';
  for (let attempt = 1; attempt <= (once ? 1 : 3); attempt++) {
    const r = spawnSync('rabbitmqctl', ['--quiet', ...args], {
      encoding: 'utf8',
      timeout: once ? 90_000 : 20_000,
      killSignal: 'SIGKILL',
    });
    if (r.status === 0) return r.stdout;
    last = `${r.error?.message ?? ''} ${r.stderr ?? ''}`.trim();
    if (attempt > 1 && /already exists|does not exist|not_found/i.test(last)) return '';
  }
  if (once) {
    // A deletion that outlived the bound goes on in the broker: leave it be (the vhost is this run's own).
    console.warn(`rabbitmqctl ${args.join(' ')} did not finish: ${last}`);
    return '';
  }
  throw new Error(`rabbitmqctl ${args.join(' ')} failed 3 times: ${last}`);
}
