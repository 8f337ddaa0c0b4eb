/**
 * Agent health checks: registering and parsing check definitions, TTL and HTTP checks on the store's clock,
 * and status transitions (which bump the service's index and invalidate sessions tied to a critical check).
 */
import { connect } from 'node:net';
import { parseDuration } from './duration';
import { asObject, type CheckEntry, type CheckStatus, ConsulHttpError, type Json, str } from './model';
import { invalidateSession } from './sessions';
import type { ConsulStore } from './store';

const STATUSES = new Set<string>(['passing', 'warning', 'critical']);
/** Consul clamps check intervals to 1 s and never reaps a critical service before 1 min. */
const MIN_INTERVAL_MS = 1_000;
const MIN_DEREGISTER_MS = 60_000;

export function registerCheck(store: ConsulStore, body: unknown): void {
  const b = asObject(body);
  const serviceId = str(b.ServiceID);
  if (serviceId && !store.services.has(serviceId)) {
    throw new ConsulHttpError(400, `ServiceID "${serviceId}" does not exist`);
  }
  if (!str(b.Name)) throw new ConsulHttpError(400, 'Missing check name');
  const parsed = parseCheck(b, str(b.Name));
  const idx = store.commit();
  putCheck(store, { ...parsed, serviceId }, idx);
  bumpServiceOf(store, serviceId, idx);
}

export function deregisterCheck(store: ConsulStore, id: string): void {
  const c = store.checks.get(id);
  if (!c)
    throw new ConsulHttpError(404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
  const idx = store.commit();
  removeCheck(store, c);
  bumpServiceOf(store, c.serviceId, idx);
}

/** `check/pass|warn|fail|update`: TTL checks only; resets the TTL. */
export function updateTtlCheck(store: ConsulStore, id: string, status: string, output: string): void {
  const c = store.checks.get(id);
  if (!c)
    throw new ConsulHttpError(404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
  if (c.type !== 'ttl') throw new ConsulHttpError(500, `CheckID "${id}" does not have associated TTL`);
  if (!STATUSES.has(status)) throw new ConsulHttpError(400, `Invalid check status: "${status}"`);
  setStatus(store, c, status as CheckStatus, output);
  armCheck(store, c, false);
}

export function parseCheck(d: Json, defaultId: string): Omit<CheckEntry, 'serviceId' | 'createIndex' | 'modifyIndex'> {
  const ttlMs = parseDuration(d.TTL);
  const http = str(d.HTTP);
  let intervalMs = parseDuration(d.Interval);
  if (!ttlMs && !http && !d.TCP && !d.Args && !d.GRPC && !d.AliasService) {
    throw new ConsulHttpError(400, 'Invalid check: TTL must be > 0 for TTL checks');
  }
  if ((http || d.TCP || d.GRPC) && !intervalMs)
    throw new ConsulHttpError(400, 'Invalid check: Interval must be > 0 for Script, HTTP, H2PING, or TCP checks');
  if (intervalMs !== undefined && intervalMs < MIN_INTERVAL_MS) intervalMs = MIN_INTERVAL_MS;
  const status = str(d.Status, 'critical') || 'critical';
  if (!STATUSES.has(status)) throw new ConsulHttpError(400, `Status for checks must 'passing', 'warning', 'critical'`);
  const dereg = parseDuration(d.DeregisterCriticalServiceAfter);
  const header: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(asObject(d.Header))) header[k] = Array.isArray(v) ? v.map(String) : [String(v)];
  return {
    checkId: str(d.CheckID) || str(d.ID) || defaultId,
    name: str(d.Name) || `Service '${defaultId}' check`,
    status: status as CheckStatus,
    notes: str(d.Notes),
    output: '',
    type: ttlMs ? 'ttl' : http ? 'http' : d.TCP ? 'tcp' : d.GRPC ? 'grpc' : '',
    tcp: d.TCP ? str(d.TCP) : undefined,
    ttlMs,
    intervalMs,
    timeoutMs: parseDuration(d.Timeout) ?? 10_000,
    timeoutGiven: d.Timeout !== undefined && d.Timeout !== '',
    http: http || undefined,
    method: str(d.Method, 'GET') || 'GET',
    header,
    body: typeof d.Body === 'string' ? d.Body : undefined,
    deregisterAfterMs: dereg === undefined ? undefined : Math.max(dereg, MIN_DEREGISTER_MS),
  };
}

export function putCheck(store: ConsulStore, c: Omit<CheckEntry, 'createIndex' | 'modifyIndex'>, idx: number): void {
  const old = store.checks.get(c.checkId);
  if (old) disarmCheck(store, old);
  // Re-registering keeps a check's current status and output (the agent's local state): a restarted process with
  // the same id stays as it was until its next heartbeat or probe.
  const entry: CheckEntry = old
    ? {
        ...c,
        status: old.status,
        output: old.output,
        criticalSince: old.criticalSince,
        createIndex: old.createIndex,
        modifyIndex: idx,
      }
    : {
        ...c,
        createIndex: idx,
        modifyIndex: idx,
        criticalSince: c.status === 'critical' ? store.clock.now() : undefined,
      };
  store.checks.set(entry.checkId, entry);
  if (store.running) armCheck(store, entry, true);
}

export function removeCheck(store: ConsulStore, c: CheckEntry): void {
  disarmCheck(store, c);
  store.checks.delete(c.checkId);
  // Sessions tied to this check are invalidated, as Consul does.
  for (const s of [...store.sessions.values()]) {
    if (s.nodeChecks.includes(c.checkId) || s.serviceChecks.some((x) => x.ID === c.checkId))
      invalidateSession(store, s);
  }
}

function bumpServiceOf(store: ConsulStore, serviceId: string, idx: number): void {
  const svc = serviceId ? store.services.get(serviceId) : undefined;
  if (svc) store.serviceIndex.set(svc.name, idx);
  else for (const name of store.serviceIndex.keys()) store.serviceIndex.set(name, idx); // node-level check
}

function setStatus(store: ConsulStore, c: CheckEntry, status: CheckStatus, output: string): void {
  if (c.status === status) {
    // Output-only changes reach the catalog after check_update_interval (5 min) in Consul: no index bump,
    // so a health endpoint that prints timestamps does not wake every watcher at each poll.
    c.output = output;
    return;
  }
  const idx = store.commit();
  if (status === 'critical' && c.status !== 'critical') c.criticalSince = store.clock.now();
  if (status !== 'critical') c.criticalSince = undefined;
  c.status = status;
  c.output = output;
  c.modifyIndex = idx;
  bumpServiceOf(store, c.serviceId, idx);
  for (const s of [...store.sessions.values()]) {
    if (
      status === 'critical' &&
      (s.nodeChecks.includes(c.checkId) || s.serviceChecks.some((x) => x.ID === c.checkId))
    ) {
      invalidateSession(store, s);
    }
  }
}

export function disarmCheck(store: ConsulStore, c: CheckEntry): void {
  if (c.timer) store.clock.clearTimeout(c.timer);
  c.timer = undefined;
  c.abort?.abort();
  c.abort = undefined;
}

/** Consul staggers a new check's first run by a random time within its interval (agent/checks: RandomStagger). */
function firstProbeDelay(store: ConsulStore, intervalMs: number): number {
  return Math.floor(store.random() * intervalMs);
}

export function armCheck(store: ConsulStore, c: CheckEntry, initial: boolean): void {
  if (!store.running) return;
  if (c.timer) store.clock.clearTimeout(c.timer);
  if (c.type === 'ttl' && c.ttlMs) {
    c.timer = store.clock.setTimeout(() => {
      c.timer = undefined;
      if (store.checks.get(c.checkId) === c) setStatus(store, c, 'critical', 'TTL expired');
    }, c.ttlMs);
    c.timer.unref();
  } else if (c.type === 'tcp' && c.intervalMs) {
    c.timer = store.clock.setTimeout(
      () => void runTcpCheck(store, c),
      initial ? firstProbeDelay(store, c.intervalMs) : c.intervalMs,
    );
    c.timer.unref();
  } else if (c.type === 'http' && c.intervalMs) {
    c.timer = store.clock.setTimeout(
      () => void runHttpCheck(store, c),
      initial ? firstProbeDelay(store, c.intervalMs) : c.intervalMs,
    );
    c.timer.unref();
  }
}

async function runHttpCheck(store: ConsulStore, c: CheckEntry): Promise<void> {
  c.timer = undefined;
  if (store.checks.get(c.checkId) !== c || !c.http) return;
  const abort = new AbortController();
  c.abort = abort;
  // On the store's clock like every other timer here, so a FakeClock drives check timeouts too.
  const timeout = store.clock.setTimeout(() => abort.abort(), c.timeoutMs ?? 10_000);
  timeout.unref();
  const method = c.method ?? 'GET';
  let status: CheckStatus;
  let output: string;
  try {
    const headers = new Headers({ 'User-Agent': 'Consul Health Check (ballast Consul emulator)' });
    for (const [k, vs] of Object.entries(c.header ?? {})) for (const v of vs) headers.append(k, v);
    const res = await fetch(c.http, { method, headers, body: c.body, signal: abort.signal });
    const text = (await res.text()).slice(0, 4096);
    status = res.status >= 200 && res.status < 300 ? 'passing' : res.status === 429 ? 'warning' : 'critical';
    output = `HTTP ${method} ${c.http}: ${res.status} ${res.statusText} Output: ${text}`;
  } catch (err) {
    status = 'critical';
    output = abort.signal.aborted
      ? `${method} ${c.http}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)`
      : `${method} ${c.http}: ${(err as Error & { cause?: Error }).cause?.message ?? (err as Error).message}`;
  } finally {
    store.clock.clearTimeout(timeout);
  }
  if (c.abort !== abort || store.checks.get(c.checkId) !== c) return; // disarmed or replaced meanwhile
  c.abort = undefined;
  setStatus(store, c, status, output);
  armCheck(store, c, false);
}

/** A TCP check: passing when a connection opens within the timeout (Consul's `TCP` check), else critical. */
async function runTcpCheck(store: ConsulStore, c: CheckEntry): Promise<void> {
  c.timer = undefined;
  if (store.checks.get(c.checkId) !== c || !c.tcp) return;
  const abort = new AbortController();
  c.abort = abort;
  const target = c.tcp;
  const sep = target.lastIndexOf(':');
  const host = target.slice(0, sep).replace(/^\[|\]$/g, '');
  const port = Number(target.slice(sep + 1));
  const result = await new Promise<{ status: CheckStatus; output: string }>((resolve) => {
    const socket = connect({ host, port });
    const timeout = store.clock.setTimeout(() => {
      socket.destroy();
      resolve({ status: 'critical', output: `dial tcp ${target}: i/o timeout` });
    }, c.timeoutMs ?? 10_000);
    timeout.unref();
    socket.once('connect', () => {
      store.clock.clearTimeout(timeout);
      socket.destroy();
      resolve({ status: 'passing', output: `TCP connect ${target}: Success` });
    });
    socket.once('error', (err) => {
      store.clock.clearTimeout(timeout);
      resolve({ status: 'critical', output: `dial tcp ${target}: ${err.message}` });
    });
  });
  if (c.abort !== abort || store.checks.get(c.checkId) !== c) return;
  c.abort = undefined;
  setStatus(store, c, result.status, result.output);
  armCheck(store, c, false);
}
