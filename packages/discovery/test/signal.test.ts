/**
 * Deregistration on SIGTERM without opt-in (issue 22 §3): a real child process registers with the defaults, gets a
 * real SIGTERM, and is gone from the Consul emulator's catalog; `deregisterOnSignal: false` is the opt-out.
 * The child imports the built package (`@ballast/discovery` dist), as a service would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { type ConsulEmulator, startConsulEmulator } from '@ballast/testkit/consul';
import { afterAll, beforeAll, expect, it } from 'vitest';

let emulator: ConsulEmulator;
beforeAll(async () => {
  emulator = await startConsulEmulator({ port: 0 });
});
afterAll(async () => {
  await emulator?.close();
});

const child = fileURLToPath(new URL('./fixtures/sigterm-child.mjs', import.meta.url));

async function registered(id: string): Promise<boolean> {
  const res = await fetch(`${emulator.url}/v1/agent/services`);
  return Object.hasOwn((await res.json()) as object, id);
}

it('a default registration is deregistered when the process gets SIGTERM', async () => {
  const id = `sigterm-${process.pid}`;
  const proc: ChildProcess = spawn(process.execPath, [child, emulator.url, id], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [line] = (await once(proc.stdout!, 'data')) as [Buffer];
    expect(line.toString()).toContain('registered');
    expect(await registered(id)).toBe(true);
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0); // core's handleSignals: every shutdown step closed
    expect(await registered(id)).toBe(false);
  } finally {
    if (proc.exitCode === null) proc.kill('SIGKILL');
  }
}, 30_000);
