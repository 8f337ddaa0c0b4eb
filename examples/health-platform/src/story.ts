/** The scripted scenario: a readable story, every step checked. Talks to the platform through the gateway. */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { CONFIG_FILE, consulPrefix } from './config';
import type { Activity } from './context';
import { OUTLIER_EJECTION_MS } from './discovery';
import { operatorToken } from './operator';
import type { Stack } from './platform';

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

class StepFailed extends Error {}

const CONFIG_FILE_NAME = CONFIG_FILE.replace(/^.*\/(config\/)/, '$1');

/** Runs the `ballast` command (@ballast/cli's built bin) as an operator would. */
function ballastCli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  const bin = join(dirname(createRequire(import.meta.url).resolve('@ballast/cli/package.json')), 'dist/bin.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

export function expect(cond: unknown, message: string): asserts cond {
  if (!cond) throw new StepFailed(message);
}

export async function runStory(
  platform: Stack,
  print: (line: string) => void = console.log,
  adminToken?: string,
): Promise<boolean> {
  const gw = platform.gatewayUrl;
  const activity = platform.activity;
  const sup = platform.supervisor;
  let token = '';
  const api = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> => {
    const res = await fetch(`${gw}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { text };
    }
    return { status: res.status, body: parsed };
  };
  const operator = adminToken ?? (await operatorToken(platform));
  // Chaos switches are operator actions: the user's token would get 403 (tested in gateway-security.test.ts).
  const chaos = async (key: string, value: boolean | number | string) => {
    const r = await api('POST', '/admin/chaos', { key, value }, { authorization: `Bearer ${operator}` });
    expect(r.status === 200, `chaos.${key} = ${value} answered ${r.status} ${JSON.stringify(r.body)}`);
  };
  // The gateway's breakers, as an operator reads them (`GET /circuit-breaker/stats`).
  type BreakerStats = { state: string; stats: { failures: number; fires: number } };
  const breakers = async () =>
    (await api('GET', '/circuit-breaker/stats')).body.circuitBreakers as Record<string, BreakerStats>;
  const breakerState = async (service: string) => (await breakers())[service]?.state ?? 'NONE';
  const sagaSteps = (sagaId: string) => platform.feed.get(sagaId);

  let n = 0;
  let failed = 0;
  const step = async (title: string, fn: (say: (line: string) => void) => Promise<void>) => {
    n++;
    print(`\n▶ ${n}. ${title}`);
    const t0 = Date.now();
    try {
      await fn((line) => print(`   • ${line}`));
      print(`   ✔ as expected (${Date.now() - t0} ms)`);
    } catch (error) {
      failed++;
      print(`   ✘ NOT as expected: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  const email = `ann.${Date.now()}@example.com`;
  let userId = '';
  let recordId = '';

  await step('Register: POST /api/auth-service/register', async (say) => {
    const since = Date.now();
    const r = await api('POST', '/api/auth-service/register', { email, username: 'ann', password: 's3cret-pass' });
    expect(r.status === 200, `register answered ${r.status} ${JSON.stringify(r.body)}`);
    userId = String(r.body.userId);
    say(`auth-service created ${userId}; user-service stored the profile under @WithLock('user:{userId}')`);
    const mail = await activity.waitFor((a) => a.kind === 'welcome-mail' && a.data?.userId === userId, 10_000, since);
    say(`user.registered → user-service (legacy decorators, @OnEvent): ${mail.text}`);
  });

  await step('Login: JWT from auth-service, checked by the gateway', async (say) => {
    const denied = await api('GET', `/api/user-service/users/${userId}`);
    expect(denied.status === 401, `without a token the gateway answered ${denied.status}, not 401`);
    say('without a token: 401 from the gateway');
    const since = Date.now();
    const r = await api('POST', '/api/auth-service/login', { email, password: 's3cret-pass' });
    expect(r.status === 200 && typeof r.body.token === 'string', `login answered ${r.status}`);
    token = String(r.body.token);
    say(`JWT issued (HS256): ${token.slice(0, 24)}…`);
    const me = await api('GET', `/api/user-service/users/${userId}`);
    expect(me.status === 200 && me.body.username === 'ann', `profile read answered ${me.status}`);
    const last = await activity.waitFor((a) => a.kind === 'last-login' && a.data?.userId === userId, 10_000, since);
    say(`user.login → user-service: ${last.text}`);
  });

  await step('Discovery: the gateway round-robins over two rag-service instances; real /health', async (say) => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push(String((await api('GET', '/api/rag-service/whoami')).body.instance));
    say(`4 calls answered by ${seen.join(', ')}`);
    expect(new Set(seen).size === 2 && seen[0] !== seen[1], 'calls did not alternate between two instances');
    // Each instance's /health is @ballast/discovery's health checker: what Consul's HTTP check reads.
    // Right after start a service may still be `degraded` (200) until its dependencies' first checks passed.
    let h = await api('GET', '/api/health-data-service/health');
    for (let i = 0; i < 40 && h.body.status !== 'healthy'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      h = await api('GET', '/api/health-data-service/health');
    }
    const checks = Object.entries(h.body.checks as Record<string, { status: string }>)
      .map(([name, c]) => `${name} ${c.status}`)
      .join(', ');
    expect(
      h.status === 200 && h.body.status === 'healthy',
      `health-data-service /health: ${h.status} ${JSON.stringify(h.body)}`,
    );
    say(`GET /api/health-data-service/health: ${h.body.status} (${checks})`);
  });

  await step(
    'Outlier ejection: one rag-service instance fails while its health check passes → ejected from picking',
    async (say) => {
      const since = Date.now();
      await chaos('failInstance', 'rag-service-2');
      say('config-center: chaos.failInstance = rag-service-2 (it answers 500 to every call; its /health still passes)');
      // The dashboard's discovery panel data (GET, as the operator): instances with their check and ejection marks.
      type Panel = { services: { name: string; instances: { id: string; status: string; ejected: boolean }[] }[] };
      const ragPanel = async () => {
        const r = await api('GET', '/dashboard/api/discovery', undefined, { authorization: `Bearer ${operator}` });
        expect(r.status === 200, `GET /dashboard/api/discovery answered ${r.status}`);
        return (r.body as unknown as Panel).services.find((s) => s.name === 'rag-service')?.instances ?? [];
      };
      const failedTries = () => activity.filter((a) => a.kind === 'chaos-500' && a.service === 'rag-service', since);
      const answers: string[] = [];
      let panel = await ragPanel();
      try {
        for (let i = 0; i < 20 && !panel.find((x) => x.id === 'rag-service-2')?.ejected; i++) {
          const r = await api('GET', '/api/rag-service/whoami');
          answers.push(r.status === 200 ? String(r.body.instance) : String(r.status));
          panel = await ragPanel();
        }
        const counts = [...new Set(answers)].map((a) => `${answers.filter((x) => x === a).length}× ${a}`);
        say(
          `${answers.length} calls through the gateway: ${counts.join(', ')} — ${failedTries().length} tries hit ` +
            'rag-service-2 and got 500, each retried on the other instance (GET is idempotent)',
        );
        const two = panel.find((x) => x.id === 'rag-service-2');
        expect(two?.ejected === true, `rag-service-2 is not ejected: ${JSON.stringify(panel)}`);
        expect(
          answers.every((a) => a === 'rag-service-1'),
          `a client saw something else: ${answers.join(', ')}`,
        );
        say(
          `dashboard discovery panel (GET /dashboard/api/discovery): ${panel.map((x) => `${x.id} ${x.status}${x.ejected ? ' EJECTED' : ''}`).join(', ')}`,
        );
        const before = failedTries().length;
        const after: string[] = [];
        for (let i = 0; i < 4; i++) after.push(String((await api('GET', '/api/rag-service/whoami')).body.instance));
        expect(failedTries().length === before, 'an ejected instance was still called');
        say(`4 more calls: ${after.join(', ')} — no try reached rag-service-2 while it is ejected`);
      } finally {
        await chaos('failInstance', '');
      }
      say(
        `chaos off; rag-service-2 stays out of picking for ${OUTLIER_EJECTION_MS / 1000} s (its first ejection), then is picked again`,
      );
    },
  );

  await step('Upload health data: the health-data saga', async (say) => {
    const since = Date.now();
    const r = await api('POST', '/api/health-data-service/health-data', {
      userId,
      metrics: { heartRate: 72, sleepHours: 7, steps: 8_200 },
    });
    expect(r.status === 200 && r.body.status === 'completed', `upload answered ${r.status} ${JSON.stringify(r.body)}`);
    recordId = String(r.body.recordId);
    const state = await sagaSteps(String(r.body.sagaId));
    say(`saga ${r.body.sagaId}: ${state?.executedSteps.join(' → ')} — ${state?.status}`);
    say(`ledger tx ${r.body.txId}; analysis task ${r.body.taskId} queued on xiaoke's priority queue (high)`);
    const done = await activity.waitFor(
      (a) => a.kind === 'analysis-done' && a.data?.jobId === r.body.taskId,
      10_000,
      since,
    );
    say(`xiaoke worker (@Task + @WithLock): ${done.text}`);
    const indexed = await activity.waitFor(
      (a) => a.kind === 'indexed' && String(a.text).includes(recordId),
      10_000,
      since,
    );
    say(`health_record.updated → rag-service: ${indexed.text}`);
    const rag = await api('POST', '/api/rag-service/query', { userId, question: 'How long did I sleep?' });
    expect(rag.status === 200 && String(rag.body.answer).includes('sleep'), `rag answered ${JSON.stringify(rag.body)}`);
    say(`rag-service query "How long did I sleep?": ${rag.body.answer}`);
    const plan = await activity.waitFor((a) => a.kind === 'plan' && a.data?.userId === userId, 10_000, since);
    say(`recommendation.generated → soer-service: ${plan.text}`);
  });

  await step('xiaoke: priority queue and the per-user lock', async (say) => {
    const r = await api('POST', '/api/xiaoke-service/tasks/burst', { userId, otherUserId: `${userId}-sister` });
    expect(r.status === 200, `burst answered ${r.status}`);
    const order = (r.body.startOrder as { priority: number }[]).map((s) => s.priority);
    say(
      `queued low, medium, high (+ high for another user) while paused; started in priority order ${order.join(', ')}`,
    );
    expect(r.body.completed === 4, `only ${r.body.completed} of 4 tasks completed`);
    expect(
      order.every((p, i) => i === 0 || order[i - 1]! >= p),
      'tasks did not start in priority order',
    );
    say(
      `max concurrent tasks for one user: ${r.body.maxConcurrentPerUser} (lock 'user:{userId}'), overall: ${r.body.maxConcurrent}`,
    );
    expect(r.body.maxConcurrentPerUser === 1, 'two tasks of one user ran at once');
  });

  await step('Consultation: the consultation saga with parallel agents', async (say) => {
    const since = Date.now();
    const r = await api('POST', '/api/xiaoai-service/consultations', {
      userId,
      recordId,
      symptoms: ['fatigue', 'poor sleep'],
    });
    expect(
      r.status === 200 && r.body.status === 'completed',
      `consultation answered ${r.status} ${JSON.stringify(r.body)}`,
    );
    const state = await sagaSteps(String(r.body.sagaId));
    say(`saga ${r.body.sagaId}: ${state?.executedSteps.join(', ')}`);
    say(`agents xiaoai, xiaoke, laoke, soer ran in parallel; then look, listen, inquiry, palpation in parallel`);
    say(`xiaoke: ${r.body.syndrome}; findings: ${(r.body.findings as string[]).join('; ')}`);
    const saved = await activity.waitFor(
      (a) => a.kind === 'diagnosis-saved' && a.data?.userId === userId,
      10_000,
      since,
    );
    say(`diagnosis.completed → health-data-service: ${saved.text}`);
  });

  await step(
    'Consultation fails: one agent fails after the others completed → compensated, system.alert',
    async (say) => {
      const since = Date.now();
      await chaos('xiaokeDiagnose', true);
      say("config-center: chaos.xiaokeDiagnose = true (xiaoke's diagnosis model crashes)");
      let r: Reply;
      try {
        r = await api('POST', '/api/xiaoai-service/consultations', { userId, recordId, symptoms: ['headache'] });
      } finally {
        await chaos('xiaokeDiagnose', false);
      }
      expect(
        r.status === 502 && r.body.status === 'compensated',
        `consultation answered ${r.status} ${JSON.stringify(r.body)}`,
      );
      const sagaId = String(r.body.sagaId);
      const tries = activity.filter((a) => a.kind === 'diagnose-failed', since).length;
      expect(tries === 2, `xiaoke was tried ${tries} times, not 2 (stepMaxAttempts)`);
      say(`saga ${sagaId} failed at ${r.body.failedStep} after ${tries} tries (the step's retry)`);
      const state = await sagaSteps(sagaId);
      const undone = state?.compensatedSteps ?? [];
      for (const s of ['laoke_recommend', 'soer_plan', 'create_consultation_record']) {
        expect(undone.includes(s), `${s} was not compensated (compensated: ${undone.join(', ')})`);
      }
      say(`its completed branches were compensated: ${undone.join(', ')}`);
      for (const service of ['laoke-service', 'soer-service', 'inquiry-service']) {
        const c = await activity.waitFor((a) => a.kind === 'compensated' && a.service === service, 10_000, since);
        say(`${service}: ${c.text}`);
      }
      const alert = await activity.waitFor((a) => a.kind === 'alert' && a.text.includes(sagaId), 10_000, since);
      say(`system.alert → ops console: ${alert.text}`);
    },
  );

  await step('Health checker: xiaoke flips degraded mode through config-center', async (say) => {
    const since = Date.now();
    await chaos('xiaokeModelDown', true);
    say('config-center: chaos.xiaokeModelDown = true (xiaoke\'s model backend "goes down")');
    const on = await activity.waitFor((a) => a.kind === 'degraded-on', 10_000, since);
    say(on.text);
    const d = await api('POST', '/api/xiaoke-service/diagnose', { symptoms: ['fatigue'] });
    expect(d.body.degraded === true, 'xiaoke did not answer in degraded mode');
    say(`xiaoke answers in degraded mode: ${d.body.syndrome}`);
    await chaos('xiaokeModelDown', false);
    const off = await activity.waitFor((a) => a.kind === 'degraded-off', 10_000, since);
    say(off.text);
  });

  await step('Config-center: four layers in Consul KV, a hot reload and a rollback', async (say) => {
    const config = platform.config;
    say(
      `layers: defaults < ${CONFIG_FILE_NAME} < Consul KV ${consulPrefix('platform', platform.infra.prefix)} < env HP_CONFIG_…; ` +
        `gateway.breakerResetMs = ${config.get('gateway.breakerResetMs')} (the default 30000, overridden by the file)`,
    );
    const before = (await config.history())[0];
    expect(before, 'Consul KV holds no version (the chaos switches were not written there)');
    say(`Consul KV is at version ${before.version} (${before.message ?? 'no message'})`);
    const since = Date.now();
    const isReload = (ms: number) => (a: Activity) => a.kind === 'reload' && a.text.includes(`breaker reset ${ms} ms`);
    await config.set('gateway.breakerResetMs', 60_000, { message: 'ops: a longer breaker reset (a mistake)' });
    const reloaded = await activity.waitFor(isReload(60_000), 10_000, since);
    say(`commit: gateway.breakerResetMs = 60000 → ${reloaded.group ?? reloaded.service}: ${reloaded.text}`);
    const rolled = await config.rollback(before.version, { message: 'ops: undo the breaker reset change' });
    const back = await activity.waitFor(isReload(3_000), 10_000, since);
    expect(config.get('gateway.breakerResetMs') === 3_000, 'the rollback did not restore 3000 ms');
    say(`rollback to version ${before.version} (committed as version ${rolled.version}) → ${back.text}`);
    const history = await config.history();
    say(
      `history: ${history
        .slice(0, 3)
        .map((h) => `v${h.version} ${h.message ?? ''}${h.rollbackOf ? ` (rollback of v${h.rollbackOf})` : ''}`)
        .join(' · ')}`,
    );
  });

  await step('Injected failure: blockchain-service failing → the upload saga compensates', async (say) => {
    await chaos('blockchain', true);
    say('config-center: chaos.blockchain = true (every ledger call answers 500)');
    const r = await api('POST', '/api/health-data-service/health-data', { userId, metrics: { heartRate: 75 } });
    expect(
      r.status === 502 && r.body.status === 'compensated',
      `upload answered ${r.status} ${JSON.stringify(r.body)}`,
    );
    const state = await sagaSteps(String(r.body.sagaId));
    say(`saga failed at ${r.body.failedStep} after its retries; compensated: ${state?.compensatedSteps.join(', ')}`);
    const list = await api('GET', `/api/health-data-service/users/${userId}/records`);
    expect(Array.isArray(list.body) || (list.body as unknown as unknown[]).length !== undefined, 'records not listed');
    const count = (list.body as unknown as unknown[]).length;
    expect(count === 1, `expected only the first record to remain, found ${count}`);
    say(`the half-written record was deleted: ${count} record remains`);
  });

  await step('Breaker opens: the gateway stops calling blockchain-service', async (say) => {
    const statuses: number[] = [];
    for (let i = 0; i < 20 && (await breakerState('blockchain-service')) !== 'OPEN'; i++) {
      statuses.push((await api('GET', `/api/blockchain-service/ledger/${userId}`)).status);
    }
    say(
      `GET /api/blockchain-service/ledger/… ×${statuses.length}: ${statuses.join(' ')} (each retried 3× by method: GET is idempotent)`,
    );
    const s = (await breakers())['blockchain-service']!;
    expect(s.state === 'OPEN', `breaker is ${s.state}`);
    say(`/circuit-breaker/stats: blockchain-service ${s.state}, failures ${s.stats.failures}, fires ${s.stats.fires}`);
    const fast = await api('GET', `/api/blockchain-service/ledger/${userId}`);
    expect(fast.status === 503, `open breaker answered ${fast.status}`);
    say(`next call: ${fast.status} "${fast.body.error}" without touching the service`);
  });

  await step('Compensation fails → saga DLQ → system.alert', async (say) => {
    const since = Date.now();
    await chaos('blockchain', false);
    await chaos('blockchainRollback', true);
    await chaos('xiaoke', true);
    say('config-center: chaos.blockchainRollback = true, chaos.xiaoke = true');
    const before = (await platform.feed.deadLetters()).length;
    const r = await api('POST', '/api/health-data-service/health-data', { userId, metrics: { heartRate: 80 } });
    expect(
      r.status === 502 && r.body.status === 'compensation_failed',
      `upload answered ${r.status} ${JSON.stringify(r.body)}`,
    );
    const letters = await platform.feed.deadLetters();
    const dlq = letters.length;
    expect(dlq > before, 'nothing was dead-lettered');
    const entry = letters.find((l) => l.sagaId === r.body.sagaId);
    const why = (() => {
      try {
        return (JSON.parse(entry?.error ?? '') as { message?: string }).message ?? entry?.error;
      } catch {
        return entry?.error;
      }
    })();
    say(`saga failed at ${r.body.failedStep}; the rollback of update_blockchain failed (1 try + 2 retries): ${why}`);
    say(`saga DLQ now holds ${dlq} entr${dlq === 1 ? 'y' : 'ies'}`);
    const { infra } = platform;
    if (infra.redis) {
      // What an operator types (the @ballast/cli bin, a process of its own, reading the same Redis).
      const cli = await ballastCli(['--redis', infra.redisUrl, '--prefix', infra.prefix, 'saga', 'dlq', 'list']);
      expect(cli.code === 0, `ballast saga dlq list exited ${cli.code}: ${cli.err}`);
      say(`$ ballast --prefix ${infra.prefix} saga dlq list`);
      for (const line of cli.out.trimEnd().split('\n')) say(`  ${line}`);
      expect(cli.out.includes('update_blockchain'), 'the CLI does not list the dead-lettered compensation');
    }
    const alert = await activity.waitFor((a) => a.kind === 'alert', 10_000, since);
    say(`system.alert → ops console: ${alert.text}`);
    await chaos('blockchainRollback', false);
    await chaos('xiaoke', false);
  });

  await step('Recovery: switch off, half-open probe, breaker closes', async (say) => {
    // The gateway reports each transition of its breakers as an activity (from its own process).
    const since = Date.now();
    const first = (await breakerState('blockchain-service')).toLowerCase().replace('_', '-');
    const deadline = Date.now() + 20_000;
    let last = 0;
    let state = first;
    while (state !== 'closed' && Date.now() < deadline) {
      last = (await api('GET', `/api/blockchain-service/ledger/${userId}`)).status;
      state = (await breakerState('blockchain-service')).toLowerCase().replace('_', '-');
      if (state !== 'closed') await new Promise((r) => setTimeout(r, 250));
    }
    expect(state === 'closed' && last === 200, `breaker ${state}, last status ${last}`);
    const isBlockchain = (a: { kind: string; data?: Record<string, unknown> }) =>
      a.kind === 'breaker' && a.data?.service === 'blockchain-service';
    await activity.waitFor((a) => isBlockchain(a) && a.data?.to === 'closed', 10_000, since);
    const seen = [first, ...activity.filter(isBlockchain, since).map((a) => String(a.data?.to))];
    say(`breaker: ${seen.join(' → ')} (reset timeout ${platform.config.get('gateway.breakerResetMs')} ms)`);
    expect(seen.includes('half-open'), 'the breaker closed without a half-open probe');
    // Each health-data-service instance has its own breaker on blockchain-service (its process's
    // service-to-service client), opened during the failed rollbacks a little later than the gateway's: uploads
    // through an instance fail fast until its half-open probe passes. Upload until every instance completed one.
    const instances = platform.mode === 'processes' ? 2 : 1;
    const upload = () => api('POST', '/api/health-data-service/health-data', { userId, metrics: { heartRate: 70 } });
    const until = Date.now() + 20_000;
    const ok = new Map<string, string>();
    let tries = 0;
    let r: Reply | undefined;
    while (ok.size < instances && Date.now() < until) {
      if (tries++ > 0) await new Promise((resolve) => setTimeout(resolve, 300));
      r = await upload();
      if (r.status === 200 && r.body.status === 'completed') ok.set(String(r.body.instance), String(r.body.sagaId));
    }
    expect(ok.size === instances, `uploads completed on ${ok.size} of ${instances} instances (last: ${r?.status})`);
    say(
      `uploads work again once the service-to-service breakers closed too: ${[...ok].map(([i, id]) => `${i} completed ${id}`).join(', ')} (${tries} uploads)`,
    );
    // The operator retries the dead-lettered compensation, as the dashboard's saga DLQ action does. This process
    // runs no saga: the entry is reopened under a lease that lapses at once, and a health-data-service sweeper
    // (which has the definition) claims the saga and compensates it.
    const entry = (await platform.feed.deadLetters()).find((d) => d.step === 'update_blockchain');
    expect(entry, 'the saga DLQ has no update_blockchain entry to retry');
    const retried = Date.now();
    await platform.feed.operations().retryDeadLetter(entry.id);
    const end = await activity.waitFor(
      (a) => a.data?.sagaId === entry.sagaId && ['saga.compensated', 'saga.failed'].includes(a.kind),
      15_000,
      retried,
    );
    expect(end.kind === 'saga.compensated', `the retried saga ended ${end.kind}`);
    const left = (await platform.feed.deadLetters()).length;
    say(
      `saga DLQ retry of ${entry.sagaId}: compensated by ${String(end.data?.owner ?? end.service)}; the DLQ holds ${left}`,
    );
  });

  /** One line per activity: time since `t0`, where it happened (process and pid), what. */
  const timeline = (items: Activity[], t0: number) =>
    items.map((a) => {
      const where = a.group ? `${a.group} (pid ${a.pid})` : a.service;
      return `  +${String(a.at - t0).padStart(5)} ms  ${where.padEnd(24)} ${a.text}`;
    });

  await step("A service process killed mid-saga: another orchestrator's sweeper resumes it", async (say) => {
    if (!sup)
      return say(
        'one process: no process to kill — this step needs the services as separate processes (Redis, no --one-process)',
      );
    const since = Date.now();
    await chaos('blockchainDelayMs', 3_000);
    say('config-center: chaos.blockchainDelayMs = 3000 (the ledger answers slowly)');
    const pending = api('POST', '/api/health-data-service/health-data', { userId, metrics: { heartRate: 68 } });
    const saved = await activity.waitFor(
      (a) =>
        a.kind === 'step.completed' && a.data?.saga === 'health-data-upload' && a.data?.step === 'save_health_data',
      15_000,
      since,
    );
    const sagaId = String(saved.data?.sagaId);
    const victim = String(saved.group);
    const pid = sup.kill(victim);
    say(`saga ${sagaId} waits on update_blockchain in ${victim} (pid ${pid}): SIGKILL`);
    await chaos('blockchainDelayMs', 0);
    const reply = await pending;
    say(`the client's upload got ${reply.status} (${reply.body.error}): its connection died with the process`);
    const end = await activity.waitFor(
      (a) => ['saga.completed', 'saga.compensated', 'saga.failed'].includes(a.kind) && a.data?.sagaId === sagaId,
      20_000,
      since,
    );
    expect(end.kind === 'saga.completed', `the saga ended ${end.kind}`);
    expect(end.data?.owner !== saved.data?.owner, 'the saga was finished by the orchestrator that was killed');
    say(`timeline of ${sagaId}:`);
    const ours = activity.filter(
      (a) => a.data?.sagaId === sagaId || (a.kind === 'process-exit' && a.data?.group === victim),
      since,
    );
    for (const line of timeline(ours, ours[0]?.at ?? since)) say(line);
    const recordId = sagaId.replace(/^health_data_/, '');
    const rec = await api('GET', `/api/health-data-service/records/${recordId}`);
    expect(rec.status === 200, `record ${recordId} answered ${rec.status}`);
    const ledger = await api('GET', `/api/blockchain-service/ledger/${userId}`);
    const anchored = (ledger.body as unknown as { recordId: string }[]).filter((e) => e.recordId === recordId);
    expect(anchored.length === 1, `record anchored ${anchored.length} times`);
    say(`resumed by ${end.data?.owner}: record ${recordId} saved once, anchored once (same idempotency key)`);
    const newPid = await sup.waitRestarted(victim, pid);
    say(`supervisor restarted ${victim}: pid ${pid} → ${newPid}`);
  });

  await step(
    'A queue worker process killed mid-job: the job is recovered as stalled and runs once more',
    async (say) => {
      if (!sup)
        return say(
          'one process: no process to kill — this step needs the services as separate processes (Redis, no --one-process)',
        );
      const since = Date.now();
      const taskId = `analysis-crash-${since}`;
      const r = await api(
        'POST',
        '/api/xiaoke-service/tasks',
        {
          kind: 'analyze_health_data',
          priority: 'high',
          data: { userId, recordId, metrics: { heartRate: 66 }, workMs: 2_000 },
        },
        { 'idempotency-key': taskId },
      );
      expect(r.status === 200, `task answered ${r.status} ${JSON.stringify(r.body)}`);
      const isOurs = (a: Activity) => a.data?.jobId === taskId;
      const first = await activity.waitFor((a) => a.kind === 'analysis-started' && isOurs(a), 15_000, since);
      const pid = sup.kill('xiaoke');
      say(`analysis ${taskId} (2 s of work) running in xiaoke (pid ${pid}): SIGKILL`);
      const newPid = await sup.waitRestarted('xiaoke', pid);
      say(`supervisor restarted xiaoke: pid ${pid} → ${newPid}`);
      const done = await activity.waitFor((a) => a.kind === 'analysis-done' && isOurs(a), 30_000, since);
      const job = await api('GET', `/api/xiaoke-service/tasks/${taskId}`);
      say(`timeline of ${taskId}:`);
      const ours = activity.filter(
        (a) => isOurs(a) || (a.service === 'supervisor' && a.data?.group === 'xiaoke'),
        first.at,
      );
      for (const line of timeline(ours, first.at)) say(line);
      const starts = ours.filter((a) => a.kind === 'analysis-started');
      expect(starts.length === 2, `the job started ${starts.length} times`);
      expect(done.pid !== pid, 'the job completed in the killed process');
      expect(
        job.body.state === 'completed' && job.body.stalledCount === 1,
        `the queue reports ${JSON.stringify(job.body)}`,
      );
      say(`queue: ${taskId} ${job.body.state}, stalledCount ${job.body.stalledCount} — recovered once, ran once more`);
    },
  );

  await step('Redis restarted without its data: event consumers, queue workers and discovery recover', async (say) => {
    const own = platform.ownRedis;
    if (!own) return say(`skipped: the demo does not run its own Redis (${platform.noOwnRedis ?? 'unknown'})`);
    if (!platform.infra.redis) return say('skipped: the platform runs on its in-memory backends');
    const since = Date.now();
    const { oldPid, newPid } = await own.restart(1_500);
    const restartedAt = Date.now();
    say(
      `redis-server pid ${oldPid} SIGKILLed; 1.5 s later a new, empty one (pid ${newPid}) on the same port — ` +
        'no persistence: streams, consumer groups, saga store, job status, locks and records are gone',
    );
    await platform.waitPassing(20_000);
    say(
      `discovery: every instance passing its health check (Redis is a critical check) ${Date.now() - restartedAt} ms after the restart`,
    );
    // The data really went: the record uploaded in step 5 is unknown now.
    const lost = await api('GET', `/api/health-data-service/records/${recordId}`);
    expect(lost.status === 404, `record ${recordId} from before the restart answered ${lost.status}, not 404`);
    say(`record ${recordId}, stored before the restart: 404 — the data went with the old server`);
    const flips = activity.filter((a) => a.kind === 'degraded-on' || a.kind === 'degraded-off', since);
    if (flips.length) say(`xiaoke: ${flips.map((a) => a.text.replace(/^health checker: /, '')).join(' · ')}`);

    // Events published after the restart: the consumer groups were lost with the data and are recreated by
    // the consumers themselves (NOGROUP → create again) — every event must reach rag-service's indexer.
    const { createEventBus, healthPlatformEvents } = await import('@ballast/event-bus');
    const bus = createEventBus({
      redis: platform.infra.redis,
      prefix: `${platform.infra.prefix}:`,
      source: 'story',
      events: healthPlatformEvents,
    });
    const events = 20;
    const marks = Array.from({ length: events }, (_, i) => `after-restart-${since}-${i}`);
    try {
      for (const recordId of marks) {
        await bus.publish(
          'health_record.updated',
          { recordId, changes: { note: 'published after the restart' } },
          {
            userId,
          },
        );
      }
    } finally {
      await bus.close();
    }
    const jobs = 10;
    const jobIds = Array.from({ length: jobs }, (_, i) => `after-restart-${since}-${i}`);
    // The gateway's own view of discovery may lag the supervisor's by a watch round: a 503 (no passing
    // instance yet) is retried for up to 5 s, as a client would; the idempotency key keeps it one job.
    let unavailable = 0;
    const add = async (id: string) => {
      const until = Date.now() + 5_000;
      for (;;) {
        const r = await api(
          'POST',
          '/api/xiaoke-service/tasks',
          { kind: 'analyze_health_data', priority: 'medium', data: { userId, recordId: id, metrics: { steps: 100 } } },
          { 'idempotency-key': id },
        );
        if (r.status !== 503 || Date.now() > until) return r;
        unavailable++;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    };
    for (const id of jobIds) {
      const r = await add(id);
      expect(r.status === 200, `adding task ${id} answered ${r.status} ${JSON.stringify(r.body)}`);
    }
    if (unavailable) say(`${unavailable} task adds answered 503 while the gateway's discovery caught up; retried`);
    const countUntil = async (count: () => number, n: number, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (count() < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      return count();
    };
    const indexed = () =>
      new Set(
        activity
          .filter((a) => a.kind === 'indexed', since)
          .map((a) => /record (\S+) indexed/.exec(a.text)?.[1])
          .filter((id) => id !== undefined && marks.includes(id)),
      ).size;
    const done = () =>
      new Set(
        activity
          .filter((a) => a.kind === 'analysis-done', since)
          .map((a) => String(a.data?.jobId))
          .filter((id) => jobIds.includes(id)),
      ).size;
    const consumed = await countUntil(indexed, events, 15_000);
    const processed = await countUntil(done, jobs, 15_000);
    say(
      `after the restart: ${events} health_record.updated published → ${consumed}/${events} consumed by rag-service ` +
        `(the consumer recreated its lost group); ${jobs} analysis tasks added → ${processed}/${jobs} processed by xiaoke's worker`,
    );
    expect(consumed === events, `only ${consumed} of ${events} events were consumed`);
    expect(processed === jobs, `only ${processed} of ${jobs} jobs were processed`);
    // A whole upload on the fresh Redis: saga store, records, ledger, queue and events again.
    const up = await api('POST', '/api/health-data-service/health-data', { userId, metrics: { heartRate: 64 } });
    expect(
      up.status === 200 && up.body.status === 'completed',
      `upload answered ${up.status} ${JSON.stringify(up.body)}`,
    );
    await activity.waitFor((a) => a.kind === 'analysis-done' && a.data?.jobId === up.body.taskId, 15_000, since);
    say(`an upload after the restart: saga ${up.body.sagaId} completed, its analysis task processed`);
    const version = (await platform.config.history())[0]?.version;
    say(
      `config: untouched — its layers are the file and Consul KV, not Redis (still at version ${version}); ` +
        'each process also keeps its last-known-good on disk',
    );
  });

  print(`\n${failed === 0 ? '✔' : '✘'} ${n - failed}/${n} steps behaved as expected`);
  return failed === 0;
}
