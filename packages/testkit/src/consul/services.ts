/**
 * Agent service registration: registering a service with its checks, deregistering it, and the reaper that
 * deregisters services whose check stayed critical past `DeregisterCriticalServiceAfter`.
 */
import { parseCheck, putCheck, removeCheck } from './checks';
import { asObject, ConsulHttpError, type Json, type ServiceEntry, str } from './model';
import type { ConsulStore } from './store';

/** Consul reaps critical services every 30 s (and never before 1 min: see the checks). */
export const REAP_INTERVAL_MS = 30_000;

export function registerService(store: ConsulStore, body: unknown, replaceExistingChecks: boolean): void {
  const b = asObject(body);
  const name = str(b.Name);
  if (!name) throw new ConsulHttpError(400, 'Missing service name');
  const id = str(b.ID) || name;
  const tags = Array.isArray(b.Tags) ? b.Tags.map(String) : [];
  const port = b.Port === undefined ? 0 : Number(b.Port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConsulHttpError(400, `Invalid Port: ${b.Port}`);
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObject(b.Meta))) {
    if (typeof v !== 'string') throw new ConsulHttpError(400, `Invalid Service Meta: Couldn't validate meta pair ${k}`);
    meta[k] = v;
  }
  const defs: Json[] = [];
  if (b.Check && typeof b.Check === 'object') defs.push(asObject(b.Check));
  if (Array.isArray(b.Checks)) defs.push(...b.Checks.map(asObject));
  // Validate every check before touching state, like the agent does.
  const parsed = defs.map((d, i) => parseCheck(d, defs.length === 1 ? `service:${id}` : `service:${id}:${i + 1}`));
  const existing = store.services.get(id);
  const idx = store.commit();
  const w = asObject(b.Weights);
  const entry: ServiceEntry = {
    id,
    name,
    tags,
    address: str(b.Address),
    port,
    meta,
    weights: { Passing: Number(w.Passing ?? 1), Warning: Number(w.Warning ?? 1) },
    enableTagOverride: b.EnableTagOverride === true,
    createIndex: existing?.createIndex ?? idx,
    modifyIndex: idx,
  };
  if (existing && existing.name !== name) store.serviceIndex.set(existing.name, idx);
  store.services.set(id, entry);
  if (replaceExistingChecks) {
    for (const c of [...store.checks.values()]) {
      if (c.serviceId === id && !parsed.some((p) => p.checkId === c.checkId)) removeCheck(store, c);
    }
  }
  for (const p of parsed) putCheck(store, { ...p, serviceId: id }, idx);
  store.tables.services = idx;
  store.serviceIndex.set(name, idx);
}

export function deregisterService(store: ConsulStore, id: string): void {
  const svc = store.services.get(id);
  if (!svc) {
    throw new ConsulHttpError(
      404,
      `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
    );
  }
  const idx = store.commit();
  store.services.delete(id);
  for (const c of [...store.checks.values()]) if (c.serviceId === id) removeCheck(store, c);
  store.tables.services = idx;
  store.serviceIndex.set(svc.name, idx);
}

export function reap(store: ConsulStore): void {
  const now = store.clock.now();
  for (const c of [...store.checks.values()]) {
    if (c.deregisterAfterMs === undefined || c.criticalSince === undefined || !c.serviceId) continue;
    if (now - c.criticalSince >= c.deregisterAfterMs && store.services.has(c.serviceId))
      deregisterService(store, c.serviceId);
  }
}
