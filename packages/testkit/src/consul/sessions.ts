/**
 * Sessions: creation with Consul's validation, TTL renewal on the store's clock, and invalidation, which
 * releases or deletes the KV locks the session held and starts their lock delay.
 */
import { randomUUID } from 'node:crypto';
import { formatDuration, parseDuration } from './duration';
import { asObject, ConsulHttpError, type Json, NODE, type SessionEntry, str } from './model';
import type { ConsulStore } from './store';

/** Session TTLs must be 10 s..24 h; Consul invalidates at 2×TTL. */
const SESSION_TTL_MIN_MS = 10_000;
const SESSION_TTL_MAX_MS = 86_400_000;
const SESSION_TTL_MULTIPLIER = 2;

export function sessionJson(s: SessionEntry): Json {
  return {
    ID: s.id,
    Name: s.name,
    Node: s.node,
    LockDelay: s.lockDelayMs * 1e6,
    Behavior: s.behavior,
    TTL: s.ttlMs ? formatDuration(s.ttlMs) : '',
    NodeChecks: s.nodeChecks,
    ServiceChecks: s.serviceChecks.length ? s.serviceChecks : null,
    CreateIndex: s.createIndex,
    ModifyIndex: s.modifyIndex,
  };
}

export function createSession(store: ConsulStore, body: unknown): string {
  const b = asObject(body);
  const node = str(b.Node) || NODE.name;
  if (node !== NODE.name) throw new ConsulHttpError(500, `Missing node registration`);
  const behavior = str(b.Behavior) || 'release';
  if (behavior !== 'release' && behavior !== 'delete')
    throw new ConsulHttpError(500, `Invalid Behavior setting '${behavior}'`);
  const ttlMs = parseDuration(b.TTL) ?? 0;
  if (ttlMs !== 0 && (ttlMs < SESSION_TTL_MIN_MS || ttlMs > SESSION_TTL_MAX_MS)) {
    throw new ConsulHttpError(500, `Invalid Session TTL '${ttlMs * 1e6}', must be between [10s=24h0m0s]`);
  }
  const lockDelayRaw = b.LockDelay;
  // A bare number is seconds when small (the API's documented quirk), else nanoseconds.
  const lockDelayMs =
    lockDelayRaw === undefined
      ? 15_000
      : // agent/session_endpoint.go FixupLockDelay: a number below 1000 means seconds, else nanoseconds.
        typeof lockDelayRaw === 'number'
        ? lockDelayRaw < 1_000
          ? lockDelayRaw * 1_000
          : lockDelayRaw / 1e6
        : (parseDuration(lockDelayRaw) ?? 15_000);
  const nodeChecks = Array.isArray(b.NodeChecks)
    ? b.NodeChecks.map(String)
    : Array.isArray(b.Checks)
      ? b.Checks.map(String)
      : ['serfHealth'];
  const serviceChecks = Array.isArray(b.ServiceChecks) ? b.ServiceChecks.map((x) => ({ ID: str(asObject(x).ID) })) : [];
  for (const c of [...nodeChecks, ...serviceChecks.map((x) => x.ID)]) {
    if (c === 'serfHealth') continue;
    const check = store.checks.get(c);
    if (!check) throw new ConsulHttpError(500, `Missing check '${c}' registration`);
    if (check.status === 'critical') throw new ConsulHttpError(500, `Check '${c}' is in critical state`);
  }
  const idx = store.commit();
  const s: SessionEntry = {
    id: randomUUID(),
    name: str(b.Name),
    node,
    lockDelayMs,
    behavior,
    ttlMs,
    nodeChecks,
    serviceChecks,
    createIndex: idx,
    modifyIndex: idx,
  };
  store.sessions.set(s.id, s);
  store.tables.sessions = idx;
  armSession(store, s);
  return s.id;
}

export function renewSession(store: ConsulStore, id: string): SessionEntry | undefined {
  const s = store.sessions.get(id);
  if (s) armSession(store, s);
  return s;
}

export function destroySession(store: ConsulStore, id: string): void {
  const s = store.sessions.get(id);
  if (s) invalidateSession(store, s);
}

export function armSession(store: ConsulStore, s: SessionEntry): void {
  if (s.timer) store.clock.clearTimeout(s.timer);
  s.timer = undefined;
  if (!s.ttlMs || !store.running) return;
  s.timer = store.clock.setTimeout(() => {
    s.timer = undefined;
    if (store.sessions.get(s.id) === s) invalidateSession(store, s);
  }, s.ttlMs * SESSION_TTL_MULTIPLIER);
  s.timer.unref();
}

export function invalidateSession(store: ConsulStore, s: SessionEntry): void {
  if (s.timer) store.clock.clearTimeout(s.timer);
  store.sessions.delete(s.id);
  const idx = store.commit();
  store.tables.sessions = idx;
  const held = [...store.kv.values()].filter((e) => e.session === s.id);
  for (const e of held) {
    if (s.lockDelayMs > 0) store.lockDelays.set(e.key, store.clock.now() + s.lockDelayMs);
    if (s.behavior === 'delete') {
      store.kv.delete(e.key);
      store.tombstones.set(e.key, idx);
    } else {
      e.session = undefined;
      e.modifyIndex = idx;
    }
  }
  if (held.length > 0) store.tables.kv = idx;
}
