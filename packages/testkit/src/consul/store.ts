/**
 * The state of one emulated single-node cluster: its tables, the Raft-like index every write takes, the change
 * feed blocking queries wait on, and the start/stop of every timer the concepts around it arm.
 */
import type { Clock, TimerHandle } from '@ballast/core';
import { armCheck, disarmCheck } from './checks';
import type { CheckEntry, KvEntry, ServiceEntry, SessionEntry } from './model';
import { REAP_INTERVAL_MS, reap } from './services';
import { armSession } from './sessions';

/** The agent + catalog + KV + sessions state of one emulated single-node cluster, with Raft-like indexes. */
export class ConsulStore {
  /** The Raft index: every write takes the next one. Starts at 1 (the leader's own first entry). */
  #index = 1;
  readonly tables = { services: 1, kv: 1, sessions: 1 };
  readonly serviceIndex = new Map<string, number>();
  readonly services = new Map<string, ServiceEntry>();
  readonly checks = new Map<string, CheckEntry>();
  readonly kv = new Map<string, KvEntry>();
  readonly tombstones = new Map<string, number>();
  readonly lockDelays = new Map<string, number>();
  readonly sessions = new Map<string, SessionEntry>();
  readonly #listeners = new Set<() => void>();
  #reaper: TimerHandle | undefined;
  #running = false;

  constructor(
    readonly clock: Clock,
    /** Staggers first check probes (and nothing else); `() => 0` probes at once. */
    readonly random: () => number = Math.random,
  ) {}

  get index(): number {
    return this.#index;
  }

  /** Whether timers run: between `start()` and `stop()`. Checks and sessions arm only then. */
  get running(): boolean {
    return this.#running;
  }

  /** Called on every write; blocking queries re-evaluate. Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Takes the next Raft index for a write and tells the listeners once the write's synchronous part is done. */
  commit(): number {
    this.#index += 1;
    queueMicrotask(() => {
      for (const l of [...this.#listeners]) l();
    });
    return this.#index;
  }

  /** Starts timers (TTL checks, HTTP polls, session TTLs, the reaper). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#reaper = this.clock.setInterval(() => reap(this), REAP_INTERVAL_MS);
    this.#reaper.unref();
    for (const c of this.checks.values()) armCheck(this, c, true);
    for (const s of this.sessions.values()) armSession(this, s);
  }

  /** Stops every timer and in-flight HTTP check. */
  stop(): void {
    this.#running = false;
    if (this.#reaper) this.clock.clearInterval(this.#reaper);
    this.#reaper = undefined;
    for (const c of this.checks.values()) disarmCheck(this, c);
    for (const s of this.sessions.values()) if (s.timer) this.clock.clearTimeout(s.timer);
  }
}
