/** The `ballast` command tree (commander). `run(argv, io)` is what the bin calls; tests call it too. */
import { createInterface } from 'node:readline/promises';
import { Command, CommanderError } from 'commander';
import { breakerCommands } from './commands/breaker';
import { busCommands } from './commands/bus';
import { configCommands } from './commands/config';
import { discoveryCommands } from './commands/discovery';
import { lockCommands } from './commands/lock';
import { queueCommands } from './commands/queue';
import { sagaCommands } from './commands/saga';
import { CliError, EXIT, type Io } from './io';

export const VERSION = '0.1.0';

/** The process's terminal: stdout/stderr, asking on stdin when both ends are a TTY. */
export const processIo: Io = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
  interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
  async confirm(question) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
    } finally {
      rl.close();
    }
  },
};

export function createProgram(io: Io = processIo): Command {
  const program = new Command('ballast')
    .description('Operate Ballast queues, event streams, sagas, locks, breakers, service instances and config')
    .version(VERSION)
    .option('--redis <url>', 'Redis URL (env REDIS_URL; default redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'key prefix the services use (env BALLAST_PREFIX; default ballast)')
    .option('--amqp <url>', 'RabbitMQ URL of queues on the rabbitmq backend (env AMQP_URL)')
    .option('--consul <url>', 'Consul HTTP address for config (env CONSUL_HTTP_ADDR)')
    .option('--consul-prefix <prefix>', 'Consul KV prefix of a config (default services/<name>/)')
    .option('--timeout <ms>', 'bound on connecting and on each command', (v) => Number(v), 5_000)
    .option('--json', 'machine-readable output')
    .option('--show-secrets', 'print values of secret-looking config keys')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  const global = () => program.opts();
  queueCommands(program, io, global);
  busCommands(program, io, global);
  configCommands(program, io, global);
  sagaCommands(program, io, global);
  lockCommands(program, io, global);
  breakerCommands(program, io, global);
  discoveryCommands(program, io, global);
  const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
  for (const c of all(program).slice(1)) c.exitOverride().configureOutput(program.configureOutput());
  return program;
}

/** Runs one command line; resolves with the exit code (documented in the README), never throws. */
export async function run(argv: readonly string[], io: Io = processIo): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with code 0.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      io.err(`ballast: ${error.message}`);
      return error.exitCode;
    }
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    io.err(`ballast: ${message}`);
    return EXIT.failure;
  }
}
