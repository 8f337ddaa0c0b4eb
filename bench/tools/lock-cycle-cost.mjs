// What one uncontended acquire+release costs (issue 18 §2): 10 workers on distinct keys for `ms`, then node CPU
// (process.cpuUsage) and, on a private redis-server, INFO commandstats per cycle — printed as one JSON line.
// usage: node bench/tools/lock-cycle-cost.mjs <redis port> <ballast|ballast-nobatch|semaphore> [ms]
// (ballast-nobatch = coalesceScripts: false). Never RESETSTATs 6379, the shared server. Run the three in turn,
// several rounds, against a private `redis-server --port <p> --save ''`: one run on a loaded host says little.
import { createLockManager } from '@ballast/lock';
import Redis from 'ioredis';
import { Mutex } from 'redis-semaphore';

const port = Number(process.argv[2]);
const which = process.argv[3]; // ballast | ballast-nobatch | semaphore
const ms = Number(process.argv[4] ?? 3000);
const WORKERS = 10;
const admin = new Redis({ port });
const redis = new Redis({ port });
await redis.ping();
let acquire;
let m;
if (which.startsWith('ballast')) {
  m = createLockManager({ redis, prefix: `cpu${process.pid}`, ttlMs: 10_000, coalesceScripts: which === 'ballast' });
  acquire = async (key) => {
    const l = await m.acquire(key, { waitMs: 10_000 });
    return () => l.release();
  };
} else {
  acquire = async (key) => {
    const mx = new Mutex(redis, key, { lockTimeout: 10_000, acquireTimeout: 10_000, retryInterval: 10 });
    await mx.acquire();
    return () => mx.release();
  };
}
async function run(untilMs) {
  let cycles = 0;
  const end = performance.now() + untilMs;
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      const key = `cpu:${process.pid}:${w}`;
      while (performance.now() < end) {
        const rel = await acquire(key);
        await rel();
        cycles++;
      }
    }),
  );
  return cycles;
}
await run(500); // warm
const stats = async () => {
  const info = await admin.info('commandstats');
  const o = {};
  for (const x of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) o[x[1]] = { calls: +x[2], usec: +x[3] };
  return o;
};
const shared = port === 6379; // never reset the shared server's stats
if (!shared) await admin.config('RESETSTAT');
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const cycles = await run(ms);
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const st = shared ? {} : await stats();
delete st.info;
delete st.config;
const per = {};
for (const [k, v] of Object.entries(st))
  per[k] = { calls: +(v.calls / cycles).toFixed(3), usec: +(v.usec / cycles).toFixed(2) };
console.log(
  JSON.stringify({
    which,
    cycles,
    opsPerSec: Math.round((cycles * 1000) / wall),
    nodeCpuUsPerCycle: +((cpu.user + cpu.system) / cycles).toFixed(1),
    userUs: +(cpu.user / cycles).toFixed(1),
    sysUs: +(cpu.system / cycles).toFixed(1),
    perCycle: per,
  }),
);
await m?.close();
redis.disconnect();
admin.disconnect();
