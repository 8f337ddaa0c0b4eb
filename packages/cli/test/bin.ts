/** Spawning the built `ballast` bin, as a user runs it, with the test's own key prefix. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

export function binRunner(prefix: string) {
  const ballast = (...args: string[]): Promise<{ code: number | null; out: string; err: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin, '--prefix', prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (err += d));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, out, err }));
    });
  const json = async (...args: string[]) => {
    const r = await ballast(...args, '--json');
    if (r.code !== 0) throw new Error(`ballast ${args.join(' ')} exited ${r.code}: ${r.err}`);
    return JSON.parse(r.out);
  };
  return { ballast, json };
}
