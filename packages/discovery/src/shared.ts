import type { ConsulEndpoint, RedisClient } from '@ballast/core';
import type { DiscoveryBackend } from './backend';
import { ConsulBackend, type ConsulBackendOptions } from './backends/consul';
import type { RedisBackend } from './backends/redis';
import { consulClientFor } from './consul-client';
import type { ServiceWatch, WatchSnapshot } from './watch';

/**
 * Process-wide sharing: every `Discovery` of the process that talks to the same Consul agent (url + token) or
 * the same Redis client + prefix gets the same backend, and every watch of one service (and tag) on one
 * backend is a single `ServiceWatch` whose snapshots fan out to each Discovery's cache. The watch stops when
 * the last Discovery lets go of it; the backend closes with the last Discovery using it.
 */
interface Counted {
  backend: DiscoveryBackend;
  refs: number;
}
const consulBackends = new Map<string, Counted>();
const redisBackends = new WeakMap<RedisClient, Map<string, Counted>>();

export interface BackendLease {
  readonly backend: DiscoveryBackend;
  release(): Promise<void>;
}

function lease(table: Map<string, Counted>, key: string, create: () => DiscoveryBackend): BackendLease {
  let entry = table.get(key);
  if (!entry) {
    entry = { backend: create(), refs: 0 };
    table.set(key, entry);
  }
  entry.refs += 1;
  const e = entry;
  let released = false;
  return {
    backend: e.backend,
    async release() {
      if (released) return;
      released = true;
      e.refs -= 1;
      if (e.refs > 0) return;
      if (table.get(key) === e) table.delete(key);
      await e.backend.close();
    },
  };
}

/** `endpoint` already resolved (core's `resolveConsulEndpoint`): its url, token and TLS settings are the key. */
export function leaseConsulBackend(
  endpoint: ConsulEndpoint,
  timeoutMs: number,
  scope: Omit<ConsulBackendOptions, 'client' | 'blockingSlackMs'> = {},
): BackendLease {
  const { url, token, tls } = endpoint;
  // The query scope (consistency, dc, ns) is part of the key: watches are shared per backend.
  const key = [url, token ?? '', timeoutMs, tls ? JSON.stringify(tls) : '', JSON.stringify(scope)].join('\u0000');
  return lease(
    consulBackends,
    key,
    () => new ConsulBackend({ client: consulClientFor(endpoint, timeoutMs), ...scope }),
  );
}

export function leaseRedisBackend(redis: RedisClient, prefix: string, create: () => RedisBackend): BackendLease {
  let table = redisBackends.get(redis);
  if (!table) {
    table = new Map();
    redisBackends.set(redis, table);
  }
  return lease(table, prefix, create);
}

interface SharedWatch {
  watch: ServiceWatch;
  listeners: Set<(s: WatchSnapshot) => void>;
}
const watches = new WeakMap<DiscoveryBackend, Map<string, SharedWatch>>();

export interface WatchHandle {
  readonly watch: ServiceWatch;
  /** Drops this user; the watch stops when no user is left. */
  release(): void;
}

/** Joins the running watch of `key` on `backend`, or starts one with `create(fanOut)`. */
export function acquireWatch(
  backend: DiscoveryBackend,
  key: string,
  listener: (s: WatchSnapshot) => void,
  create: (fanOut: (s: WatchSnapshot) => void) => ServiceWatch,
): WatchHandle {
  let table = watches.get(backend);
  if (!table) {
    table = new Map();
    watches.set(backend, table);
  }
  let shared = table.get(key);
  if (!shared || shared.watch.stopped) {
    const listeners = new Set<(s: WatchSnapshot) => void>();
    const watch = create((s) => {
      for (const l of [...listeners]) l(s);
    });
    shared = { watch, listeners };
    table.set(key, shared);
  } else if (shared.watch.snapshot) {
    listener(shared.watch.snapshot); // a newcomer's cache starts from what the watch already knows
  }
  const s = shared;
  const t = table;
  s.listeners.add(listener);
  let released = false;
  return {
    watch: s.watch,
    release() {
      if (released) return;
      released = true;
      s.listeners.delete(listener);
      if (s.listeners.size > 0) return;
      if (t.get(key) === s) t.delete(key);
      void s.watch.stop();
    },
  };
}

/** How many distinct watches run on `backend` (tests, diagnostics). */
export function runningWatches(backend: DiscoveryBackend): number {
  return [...(watches.get(backend)?.values() ?? [])].filter((s) => !s.watch.stopped).length;
}
