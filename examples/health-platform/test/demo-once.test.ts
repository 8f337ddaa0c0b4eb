/**
 * `npm run demo -- --once` as CI runs it: the supervisor in a child process, each group of services in a
 * process of its own under it, the scripted story, exit 0 only if every step behaved. Asserts the exit code,
 * the story's key lines, that the services ran as separate processes (distinct pids, none the demo's own) and
 * that the processes the story killed were restarted by the supervisor (new pids, counted restarts), the outlier
 * ejection and the restart of the demo's own Redis, and that no redis-server of the demo outlives it.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function runDemo(args: string[]): Promise<{ code: number | null; out: string; pid: number | undefined }> {
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
    child.on('exit', (code) => resolve({ code, out, pid: child.pid }));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether anything accepts a TCP connection on the loopback port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

it('runs the story with --once and exits 0 when every step behaved', async () => {
  const { code, out, pid } = await runDemo(['--once']);
  if (code !== 0) console.log(out);
  expect(out).toContain('Consul emulator');
  for (const line of [
    'user.registered → user-service (legacy decorators, @OnEvent): welcome mail sent',
    'user.login → user-service: last login of ann updated',
    'calls answered by rag-service-1, rag-service-2, rag-service-1, rag-service-2',
    'validate_user → save_health_data → update_blockchain → trigger_ai_analysis — completed',
    "max concurrent tasks for one user: 1 (lock 'user:{userId}')",
    'degraded mode ON',
    'degraded mode OFF',
    'saga failed at update_blockchain after its retries; compensated: save_health_data',
    '/circuit-breaker/stats: blockchain-service OPEN',
    'saga dlq list',
    'soer-service: draft plan plan-',
    'system.alert → ops console: ALERT (warning) from xiaoai-service: consultation',
    'commit: gateway.breakerResetMs = 60000 → gateway: config-center: gateway reloaded (breaker reset 60000 ms',
    'system.alert → ops console: ALERT (critical)',
    '17/17 steps behaved as expected',
  ]) {
    expect(out).toContain(line);
  }
  expect(out).toMatch(
    /rollback to version \d+ \(committed as version \d+\) → config-center: gateway reloaded \(breaker reset 3000 ms/,
  );
  // The parallel agents finish in any order (each call crosses processes).
  const consultation = /saga consultation_\S+: (.*)/.exec(out)?.[1] ?? '';
  for (const agent of ['xiaoai_analyze', 'xiaoke_diagnose', 'laoke_recommend', 'soer_plan', 'palpation_diagnosis']) {
    expect(consultation).toContain(agent);
  }
  // The dead-lettered compensation, retried from a process that runs no saga, is compensated by a service's sweeper.
  expect(out).toMatch(
    /saga DLQ retry of health_data_rec-\w+: compensated by health-data-service-[12]@\d+; the DLQ holds 0/,
  );
  // The status table printed after the story: one row per process.
  const table = out.slice(out.indexOf('steps behaved as expected'), out.indexOf('shutting down'));
  const rows = Object.fromEntries(
    [...table.matchAll(/^(accounts|health-data-1|health-data-2|xiaoke|agents|gateway) +(\d+) +(\w+) +(\d+) /gm)].map(
      (m) => [m[1]!, { pid: Number(m[2]), status: m[3]!, restarts: Number(m[4]) }],
    ),
  );
  expect(Object.keys(rows).sort()).toEqual([
    'accounts',
    'agents',
    'gateway',
    'health-data-1',
    'health-data-2',
    'xiaoke',
  ]);
  const pids = Object.values(rows).map((r) => r.pid);
  expect(new Set(pids).size).toBe(6);
  expect(pids).not.toContain(pid);
  // Step 15 killed the process running a saga; another instance's sweeper finished it.
  const saga =
    /saga (health_data_rec-\w+) waits on update_blockchain in (health-data-[12]) \(pid (\d+)\): SIGKILL/.exec(out);
  expect(saga).not.toBeNull();
  const [, , victim, killedPid] = saga!;
  expect(out).toContain('health-data-upload saga.completed');
  expect(out).toMatch(/resumed by health-data-service-[12]@\d+: record rec-\w+ saved once, anchored once/);
  const restarted = new RegExp(`supervisor restarted ${victim}: pid ${killedPid} → (\\d+)`).exec(out);
  expect(restarted).not.toBeNull();
  expect(rows[victim!]).toMatchObject({ pid: Number(restarted![1]), status: 'up', restarts: 1 });
  // Step 16 killed xiaoke's worker process mid-job: restarted, the job recovered as stalled and ran once more.
  const xiaoke = /supervisor restarted xiaoke: pid (\d+) → (\d+)/.exec(out);
  expect(xiaoke).not.toBeNull();
  expect(xiaoke![1]).not.toBe(xiaoke![2]);
  expect(rows.xiaoke).toMatchObject({ pid: Number(xiaoke![2]), status: 'up', restarts: 1 });
  expect(out).toMatch(/queue: analysis-crash-\d+ completed, stalledCount 1 — recovered once, ran once more/);
  // The breaker is open when step 14 starts, unless a slow machine spent its 3 s reset timeout in step 13.
  expect(out).toMatch(/breaker: (open → )?half-open → closed/);
  // Step 4: rag-service-2 fails every call behind a passing health check; the gateway's calls (through
  // discovery.target) report each try, so outlier detection ejects it — as the dashboard's discovery panel shows.
  expect(out).toContain(
    'dashboard discovery panel (GET /dashboard/api/discovery): rag-service-1 passing, rag-service-2 passing EJECTED',
  );
  expect(out).toMatch(/4 more calls: (rag-service-1, ){3}rag-service-1 — no try reached rag-service-2/);
  // Step 17: the demo's own Redis, SIGKILLed and started again empty on the same port; everything published or
  // added afterwards is consumed/processed.
  const own = /own Redis: redis-server pid (\d+) on redis:\/\/127\.0\.0\.1:(\d+)/.exec(out);
  expect(own, 'the demo did not start its own redis-server').not.toBeNull();
  const restart = /redis-server pid (\d+) SIGKILLed; 1\.5 s later a new, empty one \(pid (\d+)\) on the same port/.exec(
    out,
  );
  expect(restart).not.toBeNull();
  expect(restart![1]).toBe(own![1]);
  expect(out).toMatch(/record rec-\w+, stored before the restart: 404/);
  expect(out).toMatch(
    /20 health_record\.updated published → 20\/20 consumed by rag-service .*; 10 analysis tasks added → 10\/10 processed/,
  );
  expect(out).toMatch(/an upload after the restart: saga health_data_rec-\w+ completed/);
  // No leaked server: neither redis-server process is alive once the demo exited, and the port is closed.
  for (const p of [Number(own![1]), Number(restart![2])])
    expect(alive(p), `redis-server pid ${p} still runs`).toBe(false);
  expect(await answers(Number(own![2]))).toBe(false);
  expect(out).not.toContain('NOT as expected');
  expect(code).toBe(0);
}, 90_000);
