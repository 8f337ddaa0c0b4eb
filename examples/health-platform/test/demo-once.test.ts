/**
 * `npm run demo -- --once` as CI runs it: the whole platform in a child process, the scripted story, exit 0
 * only if every step behaved. Asserts the exit code and the story's key lines.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function runDemo(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo.ts', ...args], {
      cwd: root,
      env: { ...process.env, BALLAST_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
  });
}

it('runs the story with --once and exits 0 when every step behaved', async () => {
  const { code, out } = await runDemo(['--once']);
  if (code !== 0) console.log(out);
  expect(out).toContain('Consul emulator');
  for (const line of [
    'user.registered → user-service (legacy decorators, @OnEvent): welcome mail sent',
    'user.login → user-service: last login of ann updated',
    'calls answered by rag-service-1, rag-service-2, rag-service-1, rag-service-2',
    'validate_user → save_health_data → update_blockchain → trigger_ai_analysis — completed',
    "max concurrent tasks for one user: 1 (lock 'user:{userId}')",
    'xiaoai_analyze, xiaoke_diagnose, laoke_recommend, soer_plan',
    'degraded mode ON',
    'degraded mode OFF',
    'saga failed at update_blockchain after its retries; compensated: save_health_data',
    '/circuit-breaker/stats: blockchain-service OPEN',
    'saga dlq list',
    'system.alert → ops console: ALERT (critical)',
    '11/11 steps behaved as expected',
  ]) {
    expect(out).toContain(line);
  }
  // The breaker is open when step 11 starts, unless a slow machine spent its 3 s reset timeout in step 10.
  expect(out).toMatch(/breaker: (open → )?half-open → closed/);
  expect(out).not.toContain('NOT as expected');
  expect(code).toBe(0);
}, 90_000);
