/**
 * Read views of the agent's services and checks as Consul's agent, health and catalog endpoints render them:
 * the JSON shapes, the node and its `serfHealth` check, and the index each view reports.
 */

import { formatDuration } from './duration';
import { type CheckEntry, type Json, NODE, type ServiceEntry } from './model';
import type { ConsulStore } from './store';

export function serviceJson(s: ServiceEntry): Json {
  return {
    ID: s.id,
    Service: s.name,
    Tags: s.tags,
    Address: s.address,
    Meta: s.meta,
    Port: s.port,
    Weights: s.weights,
    EnableTagOverride: s.enableTagOverride,
    Datacenter: NODE.datacenter,
    CreateIndex: s.createIndex,
    ModifyIndex: s.modifyIndex,
  };
}

/**
 * A service as `health/service` renders it (a catalog NodeService): `Meta` null when none was registered, `Port`
 * left out when 0, `Proxy` and `Connect` always present, no `Datacenter` (that is the node's).
 */
export function nodeServiceJson(s: ServiceEntry): Json {
  const out: Json = {
    ID: s.id,
    Service: s.name,
    Tags: s.tags,
    Address: s.address,
    Meta: Object.keys(s.meta).length === 0 ? null : s.meta,
  };
  if (s.port !== 0) out.Port = s.port;
  return {
    ...out,
    Weights: s.weights,
    EnableTagOverride: s.enableTagOverride,
    Proxy: { Mode: '', MeshGateway: {}, Expose: {} },
    Connect: {},
    CreateIndex: s.createIndex,
    ModifyIndex: s.modifyIndex,
  };
}

export function checkJson(store: ConsulStore, c: CheckEntry): Json {
  const svc = c.serviceId ? store.services.get(c.serviceId) : undefined;
  return {
    Node: NODE.name,
    CheckID: c.checkId,
    Name: c.name,
    Status: c.status,
    Notes: c.notes,
    Output: c.output,
    ServiceID: c.serviceId,
    ServiceName: svc?.name ?? '',
    ServiceTags: svc?.tags ?? [],
    Type: c.type,
    Interval: c.intervalMs ? formatDuration(c.intervalMs) : '',
    // Consul reports the Timeout the check was registered with; none given → "" (the 10 s default applies).
    Timeout: c.timeoutGiven && c.timeoutMs !== undefined ? formatDuration(c.timeoutMs) : '',
    Definition: {},
    CreateIndex: c.createIndex,
    ModifyIndex: c.modifyIndex,
  };
}

export function nodeJson(): Json {
  return {
    ID: NODE.id,
    Node: NODE.name,
    Address: NODE.address,
    Datacenter: NODE.datacenter,
    TaggedAddresses: { lan: NODE.address, wan: NODE.address },
    Meta: { 'consul-emulator': 'ballast-testkit' },
    CreateIndex: 1,
    ModifyIndex: 1,
  };
}

export function serfHealthJson(): Json {
  return {
    Node: NODE.name,
    CheckID: 'serfHealth',
    Name: 'Serf Health Status',
    Status: 'passing',
    Notes: '',
    Output: 'Agent alive and reachable',
    ServiceID: '',
    ServiceName: '',
    ServiceTags: [],
    Type: '',
    Definition: {},
    CreateIndex: 1,
    ModifyIndex: 1,
  };
}

/** `health/service/:name`: entries + the index a blocking query compares against. */
export function healthService(
  store: ConsulStore,
  name: string,
  tags: string[],
  passingOnly: boolean,
): { index: number; body: Json[] } {
  const index = store.serviceIndex.get(name) ?? store.tables.services;
  const body: Json[] = [];
  for (const s of store.services.values()) {
    if (s.name !== name || !tags.every((t) => s.tags.includes(t))) continue;
    const checks = [...store.checks.values()].filter((c) => c.serviceId === s.id || c.serviceId === '');
    if (passingOnly && checks.some((c) => c.status !== 'passing')) continue;
    body.push({
      Node: nodeJson(),
      Service: nodeServiceJson(s),
      Checks: [serfHealthJson(), ...checks.map((c) => checkJson(store, c))],
    });
  }
  return { index, body };
}

export function catalogServices(store: ConsulStore): Json {
  const out: Record<string, string[]> = { consul: [] };
  for (const s of store.services.values()) out[s.name] = [...new Set([...(out[s.name] ?? []), ...s.tags])];
  return out;
}
