// Smoke run of the consumer check, as ESM (this file) and as CommonJS (smoke.cjs: the same with require()).
// Loads every installed @ballast package, makes memory-backed objects, calls a few functions, one against Redis.
const load = (name) => import(name);

async function main() {
  const { strict: assert } = await load('node:assert');
  const packages = JSON.parse(process.env.BALLAST_PACKAGES ?? '[]');
  const mods = {};
  for (const name of packages) {
    mods[name] = await load(name);
    assert.ok(Object.keys(mods[name]).length > 0, `${name} exports nothing`);
  }
  const has = (name) => name in mods;

  const core = mods['@ballast/core'];
  const err = new core.BallastError('SMOKE', 'smoke');
  assert.ok(core.isBallastError(err));
  const redis = core.createRedis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  assert.equal(await redis.ping(), 'PONG');
  await redis.quit();

  if (has('@ballast/circuit-breaker')) {
    const { CircuitBreaker, retry, wrap } = mods['@ballast/circuit-breaker'];
    const breaker = new CircuitBreaker({ name: 'smoke' });
    let calls = 0;
    const policy = wrap(retry({ maxRetries: 2, backoff: { initialMs: 1 } }), breaker);
    assert.equal(await policy.execute(async () => (++calls < 2 ? Promise.reject(new Error('once')) : 42)), 42);
  }
  if (has('@ballast/event-bus')) {
    const { z } = await load('zod');
    const { createEventBus } = mods['@ballast/event-bus'];
    const bus = createEventBus({ source: 'smoke', events: { 'smoke.ping': z.object({ n: z.number() }) } });
    const got = new Promise((resolve) => bus.subscribe('smoke.ping', async (e) => resolve(e.data.n), { group: 'g' }));
    await bus.publish('smoke.ping', { n: 7 });
    assert.equal(await got, 7);
    await bus.close();
  }
  if (has('@ballast/lock')) {
    const { createLockManager } = mods['@ballast/lock'];
    const locks = createLockManager({});
    assert.equal(await locks.using('smoke', async () => 'held'), 'held');
    await locks.close();
  }
  if (has('@ballast/queue')) {
    const { createQueue, createWorker } = mods['@ballast/queue'];
    const queue = createQueue('smoke');
    const done = new Promise((resolve) => queue.onCompleted(({ job }) => resolve(job.name)));
    const worker = createWorker(queue, async (job) => job.data.n * 2);
    await queue.add('double', { n: 2 });
    assert.equal(await done, 'double');
    await worker.close();
    await queue.close();
  }
  console.log(`smoke ok: ${packages.length} packages`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
