/** The scripted scenario: a readable story, every step checked. Talks to the platform through the gateway. */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { operatorToken } from './operator';
import type { Platform } from './platform';

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

class StepFailed extends Error {}

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
  platform: Platform,
  print: (line: string) => void = console.log,
  adminToken?: string,
): Promise<boolean> {
  const gw = platform.gateway.url;
  const activity = platform.ctx.activity;
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
  const chaos = (key: string, value: boolean) =>
    api('POST', '/admin/chaos', { key, value }, { authorization: `Bearer ${operator}` });
  const breakerState = (service: string) =>
    (platform.gateway.breakerStats().circuitBreakers[service]?.state ?? 'NONE') as string;
  const sagaSteps = async (sagaId: string) => {
    const item = platform.feed.items.find((i) => i.sagaId === sagaId);
    return item ? item.orchestrator.get(sagaId) : undefined;
  };

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

  await step('Discovery: the gateway round-robins over two rag-service instances', async (say) => {
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push(String((await api('GET', '/api/rag-service/whoami')).body.instance));
    say(`4 calls answered by ${seen.join(', ')}`);
    expect(new Set(seen).size === 2 && seen[0] !== seen[1], 'calls did not alternate between two instances');
  });

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
    for (let i = 0; i < 20 && breakerState('blockchain-service') !== 'OPEN'; i++) {
      statuses.push((await api('GET', `/api/blockchain-service/ledger/${userId}`)).status);
    }
    say(
      `GET /api/blockchain-service/ledger/… ×${statuses.length}: ${statuses.join(' ')} (each retried 3× by method: GET is idempotent)`,
    );
    expect(breakerState('blockchain-service') === 'OPEN', `breaker is ${breakerState('blockchain-service')}`);
    const s = platform.gateway.breakerStats().circuitBreakers['blockchain-service']!;
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
    say(`saga failed at ${r.body.failedStep}; rollback of update_blockchain failed after 1 + 2 retries`);
    const dlq = (await platform.feed.deadLetters()).length;
    expect(dlq > before, 'nothing was dead-lettered');
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
    const breaker = platform.gateway.client.breakers().get('blockchain-service');
    expect(breaker, 'the gateway has no blockchain-service breaker');
    const stateOf = (b: typeof breaker) => b.state as string;
    const seen: string[] = [breaker.state];
    const off = breaker.onStateChange((c) => seen.push(c.to));
    try {
      const deadline = Date.now() + 20_000;
      let last = 0;
      while (breaker.state !== 'closed' && Date.now() < deadline) {
        last = (await api('GET', `/api/blockchain-service/ledger/${userId}`)).status;
        if (stateOf(breaker) !== 'closed') await new Promise((r) => setTimeout(r, 250));
      }
      say(`breaker: ${seen.join(' → ')} (reset timeout ${platform.ctx.config.get('gateway.breakerResetMs')} ms)`);
      expect(breaker.state === 'closed' && last === 200, `breaker ${breaker.state}, last status ${last}`);
      expect(seen.includes('half-open'), 'the breaker closed without a half-open probe');
    } finally {
      off();
    }
    // health-data-service's own breaker on blockchain-service (service-to-service client) opened during the
    // failed rollbacks, a little later than the gateway's: uploads fail fast until its half-open probe passes.
    const upload = () => api('POST', '/api/health-data-service/health-data', { userId, metrics: { heartRate: 70 } });
    const until = Date.now() + 15_000;
    let r = await upload();
    let tries = 1;
    while (r.status !== 200 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      r = await upload();
      tries++;
    }
    expect(r.status === 200 && r.body.status === 'completed', `upload answered ${r.status}`);
    say(
      `uploads work again once the service-to-service breaker closed too: saga ${r.body.sagaId} completed (attempt ${tries})`,
    );
  });

  print(`\n${failed === 0 ? '✔' : '✘'} ${n - failed}/${n} steps behaved as expected`);
  return failed === 0;
}
