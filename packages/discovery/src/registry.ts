import {
  type Clock,
  getShutdownRegistry,
  handleSignals,
  InvalidOptionsError,
  type Logger,
  parseOptions,
  processSlot,
  type TimerHandle,
} from '@ballast/core';

/** SIGTERM/SIGINT → the process shutdown registry, installed once per process by the first registration. */
const signalSlot = processSlot<() => void>('@ballast/discovery:signals');

import type { CheckDefinition, DiscoveryBackend, InstanceStatus, RegistrationSpec } from './backend';
import { isRegistrationLostError } from './errors';
import { type RegisterOptions, registerOptionsSchema } from './options';

/** A live registration: heartbeats (TTL), anti-entropy and deregistration on close. */
export interface Registration {
  readonly id: string;
  readonly name: string;
  /** How many times the backend forgot us and we registered again. */
  readonly reregistrations: number;
  /** Deregisters and stops the timers. Idempotent. */
  close(): Promise<void>;
}

interface Hooks {
  clock: Clock;
  logger?: Logger;
  onReregister(name: string): void;
  onClose(r: Registration): void;
}

const STATUS_OF = { healthy: 'passing', degraded: 'warning', unhealthy: 'critical' } as const;

/**
 * Registers with `backend` and keeps the registration alive: TTL checks are heartbeated every ttl/3 (a
 * `RegistrationLostError` — Consul's 404 after an agent restart — re-registers); every
 * `antiEntropyIntervalMs` the backend is asked whether it still knows us (re-registers if not). Backends
 * that do not run HTTP checks (Redis, memory) get the HTTP check polled here and reported as heartbeats.
 */
export async function registerService(
  backend: DiscoveryBackend,
  options: RegisterOptions,
  hooks: Hooks,
): Promise<Registration> {
  const o = parseOptions(registerOptionsSchema, options, 'register');
  const { clock, logger } = hooks;
  const id = o.id ?? `${o.name}-${o.address}-${o.port}`;
  if (o.checks.length > 0 && !backend.runsHttpChecks) {
    throw new InvalidOptionsError('register', [
      {
        path: 'checks',
        expected: `a registry whose agent runs checks (Consul); this one is ${backend.kind}`,
        received: `${o.checks.length} check(s)`,
        message: 'checks need an agent that runs them',
      },
    ]);
  }
  let check: CheckDefinition | undefined;
  /** The URL this process polls itself (backends without an agent). */
  let selfPoll: { url: string; intervalMs: number; timeoutMs: number } | undefined;
  let ttlMs: number | undefined;
  if (o.check !== false) {
    if ('ttlMs' in o.check) {
      check = { ttlMs: o.check.ttlMs, deregisterCriticalAfterMs: o.check.deregisterCriticalAfterMs };
      ttlMs = o.check.ttlMs;
    } else {
      const url = o.check.http ?? `http://${o.address}:${o.port}/health`;
      if (backend.runsHttpChecks) {
        check = {
          http: url,
          intervalMs: o.check.intervalMs,
          timeoutMs: o.check.timeoutMs,
          deregisterCriticalAfterMs: o.check.deregisterCriticalAfterMs,
        };
      } else {
        // No agent: a TTL check of 3 intervals, fed by this process polling the URL.
        ttlMs = o.check.intervalMs * 3;
        check = { ttlMs, deregisterCriticalAfterMs: o.check.deregisterCriticalAfterMs };
        selfPoll = { url, intervalMs: o.check.intervalMs, timeoutMs: o.check.timeoutMs };
      }
    }
  }
  const spec: RegistrationSpec = {
    id,
    name: o.name,
    address: o.address,
    port: o.port,
    tags: o.tags,
    meta: o.meta,
    check,
    checks: o.checks,
    enableTagOverride: o.enableTagOverride,
    ...(o.weights ? { weights: o.weights } : {}),
  };
  let polledStatus: InstanceStatus = 'critical';
  const currentStatus = (): InstanceStatus => {
    if (selfPoll) return polledStatus;
    return o.health ? STATUS_OF[o.health.status] : 'passing';
  };

  await backend.register({ ...spec, status: ttlMs !== undefined ? currentStatus() : undefined });

  let closed = false;
  let reregistrations = 0;
  const timers: TimerHandle[] = [];
  const offs: (() => void)[] = [];
  let busy = false;

  const reregister = async (why: string) => {
    reregistrations += 1;
    hooks.onReregister(o.name);
    logger?.warn({ service: o.name, id, why }, 'registration lost; registering again');
    await backend.register({ ...spec, status: ttlMs !== undefined ? currentStatus() : undefined });
  };

  /** One round at a time, never throws (background). */
  const guarded = (what: string, fn: () => Promise<void>) => () => {
    if (closed || busy) return;
    busy = true;
    fn()
      .catch((err: unknown) => logger?.warn({ service: o.name, id, err }, `${what} failed`))
      .finally(() => {
        busy = false;
      });
  };

  const heartbeat = async () => {
    try {
      await backend.heartbeat(id, currentStatus());
    } catch (err) {
      if (!isRegistrationLostError(err) || closed) throw err;
      await reregister('heartbeat: unknown check (404)');
    }
  };

  if (selfPoll) {
    const poll = selfPoll;
    const pollOnce = async () => {
      try {
        const res = await fetch(poll.url, { signal: AbortSignal.timeout(poll.timeoutMs) });
        await res.arrayBuffer();
        polledStatus = res.ok ? 'passing' : res.status === 429 ? 'warning' : 'critical';
      } catch {
        polledStatus = 'critical';
      }
      await heartbeat();
    };
    const t = clock.setInterval(guarded('health poll', pollOnce), poll.intervalMs);
    t.unref();
    timers.push(t);
    void guarded('health poll', pollOnce)();
  } else if (ttlMs !== undefined) {
    const t = clock.setInterval(guarded('heartbeat', heartbeat), Math.max(1, Math.floor(ttlMs / 3)));
    t.unref();
    timers.push(t);
  }
  if (o.health && !selfPoll && ttlMs !== undefined) {
    // Report a health change at once, not at the next heartbeat.
    const h = o.health as { onChange?: (cb: () => void) => () => void };
    const off = h.onChange?.(() => void guarded('heartbeat', heartbeat)());
    if (off) offs.push(off);
  }

  const antiEntropy = clock.setInterval(
    guarded('anti-entropy', async () => {
      if (!(await backend.isRegistered(id)) && !closed) await reregister('anti-entropy: agent does not know us');
    }),
    o.antiEntropyIntervalMs,
  );
  antiEntropy.unref();
  timers.push(antiEntropy);

  let unregisterShutdown: (() => void) | undefined;
  let closing: Promise<void> | undefined;
  const registration: Registration = {
    id,
    name: o.name,
    get reregistrations() {
      return reregistrations;
    },
    close() {
      closing ??= (async () => {
        closed = true;
        for (const t of timers) clock.clearInterval(t);
        for (const off of offs) off();
        unregisterShutdown?.();
        hooks.onClose(registration);
        await backend.deregister(id);
      })();
      return closing;
    },
  };
  if (o.shutdown !== false) {
    unregisterShutdown = (o.shutdown ?? getShutdownRegistry()).register(`discovery:${id}`, () => registration.close());
    // Without signal handling, a SIGTERM killed the process with the instance still registered.
    if (o.shutdown === undefined && o.deregisterOnSignal) {
      signalSlot.getOrCreate(() => handleSignals(getShutdownRegistry()));
    }
  }
  return registration;
}
