import type { Ledger, Mode } from './ledger';

export interface ScenarioContext {
  mode: Mode;
  /** The Redis the scenario uses (default `BALLAST_REDIS_URL` or redis://127.0.0.1:6379). */
  redisUrl: string;
  /** Progress lines (the CLI prints them; tests keep them quiet). */
  log(message: string): void;
  /** Random numbers of this run (seeded in the CLI with --seed, so a failing run can be replayed). */
  random(): number;
  /** Multiplies the mode's main count (events, seconds of chaos); `--scale 0.2` for a moderate long run. */
  scale?: number;
}

/**
 * One chaos scenario. A file in src/scenarios exporting `scenario` is registered by that alone: adding one
 * (queue, saga, discovery…) is one file plus its worker in src/workers.
 */
export interface Scenario {
  name: string;
  /** One line: what is done to the system and what must hold. */
  description: string;
  run(ctx: ScenarioContext): Promise<Ledger>;
}

export function defaultRedisUrl(): string {
  return process.env.BALLAST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** mulberry32: a small seeded PRNG, so the chaos schedule of a run can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A bounded wait: polls `done` every `everyMs` until it holds or `timeoutMs` passed; returns whether it held. */
export async function waitUntil(
  done: () => Promise<boolean> | boolean,
  timeoutMs: number,
  everyMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 1_000_000 && Date.now() < deadline; i++) {
    if (await done()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return done();
}

export const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
