import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '@ballast/core';
import { formatDuration, parseDuration } from './duration';

/** An error the emulator answers with Consul's status code and plain-text body. */
export class ConsulHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const NODE = { name: 'ballast-consul-emulator', address: '127.0.0.1', datacenter: 'dc1', id: randomUUID() };
export type CheckStatus = 'passing' | 'warning' | 'critical';
const STATUSES = new Set<string>(['passing', 'warning', 'critical']);
/** Consul clamps check intervals to 1 s, reaps critical services every 30 s, never before 1 min. */
const MIN_INTERVAL_MS = 1_000;
const REAP_INTERVAL_MS = 30_000;
const MIN_DEREGISTER_MS = 60_000;
/** Session TTLs must be 10 s..24 h; Consul invalidates at 2×TTL. */
const SESSION_TTL_MIN_MS = 10_000;
const SESSION_TTL_MAX_MS = 86_400_000;
const SESSION_TTL_MULTIPLIER = 2;

export interface ServiceEntry {
  id: string;
  name: string;
  tags: string[];
  address: string;
  port: number;
  meta: Record<string, string>;
  weights: { Passing: number; Warning: number };
  enableTagOverride: boolean;
  createIndex: number;
  modifyIndex: number;
}

export interface CheckEntry {
  checkId: string;
  name: string;
  status: CheckStatus;
  notes: string;
  output: string;
  serviceId: string;
  type: 'ttl' | 'http' | '';
  ttlMs?: number;
  intervalMs?: number;
  timeoutMs?: number;
  http?: string;
  method?: string;
  header?: Record<string, string[]>;
  body?: string;
  deregisterAfterMs?: number;
  criticalSince?: number;
  createIndex: number;
  modifyIndex: number;
  timer?: TimerHandle;
  abort?: AbortController;
}

export interface KvEntry {
  key: string;
  value: Buffer;
  flags: number;
  createIndex: number;
  modifyIndex: number;
  lockIndex: number;
  session?: string;
}

export interface SessionEntry {
  id: string;
  name: string;
  node: string;
  lockDelayMs: number;
  behavior: 'release' | 'delete';
  ttlMs: number;
  nodeChecks: string[];
  serviceChecks: { ID: string }[];
  createIndex: number;
  modifyIndex: number;
  timer?: TimerHandle;
}

type Json = Record<string, unknown>;
const asObject = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown, fallback = ''): string => (typeof v === 'string' ? v : fallback);

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

  constructor(readonly clock: Clock) {}

  get index(): number {
    return this.#index;
  }

  /** Called on every write; blocking queries re-evaluate. Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #commit(): number {
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
    this.#reaper = this.clock.setInterval(() => this.#reap(), REAP_INTERVAL_MS);
    this.#reaper.unref();
    for (const c of this.checks.values()) this.#armCheck(c, true);
    for (const s of this.sessions.values()) this.#armSession(s);
  }

  /** Stops every timer and in-flight HTTP check. */
  stop(): void {
    this.#running = false;
    if (this.#reaper) this.clock.clearInterval(this.#reaper);
    this.#reaper = undefined;
    for (const c of this.checks.values()) this.#disarmCheck(c);
    for (const s of this.sessions.values()) if (s.timer) this.clock.clearTimeout(s.timer);
  }

  // ---------------------------------------------------------------- services & checks

  registerService(body: unknown, replaceExistingChecks: boolean): void {
    const b = asObject(body);
    const name = str(b.Name);
    if (!name) throw new ConsulHttpError(400, 'Missing service name');
    const id = str(b.ID) || name;
    const tags = Array.isArray(b.Tags) ? b.Tags.map(String) : [];
    const port = b.Port === undefined ? 0 : Number(b.Port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConsulHttpError(400, `Invalid Port: ${b.Port}`);
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(asObject(b.Meta))) {
      if (typeof v !== 'string')
        throw new ConsulHttpError(400, `Invalid Service Meta: Couldn't validate meta pair ${k}`);
      meta[k] = v;
    }
    const defs: Json[] = [];
    if (b.Check && typeof b.Check === 'object') defs.push(asObject(b.Check));
    if (Array.isArray(b.Checks)) defs.push(...b.Checks.map(asObject));
    // Validate every check before touching state, like the agent does.
    const parsed = defs.map((d, i) =>
      this.#parseCheck(d, defs.length === 1 ? `service:${id}` : `service:${id}:${i + 1}`),
    );
    const existing = this.services.get(id);
    const idx = this.#commit();
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
    if (existing && existing.name !== name) this.serviceIndex.set(existing.name, idx);
    this.services.set(id, entry);
    if (replaceExistingChecks) {
      for (const c of [...this.checks.values()]) {
        if (c.serviceId === id && !parsed.some((p) => p.checkId === c.checkId)) this.#removeCheck(c);
      }
    }
    for (const p of parsed) this.#putCheck({ ...p, serviceId: id }, idx);
    this.tables.services = idx;
    this.serviceIndex.set(name, idx);
  }

  deregisterService(id: string): void {
    const svc = this.services.get(id);
    if (!svc) {
      throw new ConsulHttpError(
        404,
        `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`,
      );
    }
    const idx = this.#commit();
    this.services.delete(id);
    for (const c of [...this.checks.values()]) if (c.serviceId === id) this.#removeCheck(c);
    this.tables.services = idx;
    this.serviceIndex.set(svc.name, idx);
  }

  registerCheck(body: unknown): void {
    const b = asObject(body);
    const serviceId = str(b.ServiceID);
    if (serviceId && !this.services.has(serviceId)) {
      throw new ConsulHttpError(400, `ServiceID "${serviceId}" does not exist`);
    }
    if (!str(b.Name)) throw new ConsulHttpError(400, 'Missing check name');
    const parsed = this.#parseCheck(b, str(b.Name));
    const idx = this.#commit();
    this.#putCheck({ ...parsed, serviceId }, idx);
    this.#bumpServiceOf(serviceId, idx);
  }

  deregisterCheck(id: string): void {
    const c = this.checks.get(id);
    if (!c)
      throw new ConsulHttpError(
        404,
        `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`,
      );
    const idx = this.#commit();
    this.#removeCheck(c);
    this.#bumpServiceOf(c.serviceId, idx);
  }

  /** `check/pass|warn|fail|update`: TTL checks only; resets the TTL. */
  updateTtlCheck(id: string, status: string, output: string): void {
    const c = this.checks.get(id);
    if (!c)
      throw new ConsulHttpError(
        404,
        `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`,
      );
    if (c.type !== 'ttl') throw new ConsulHttpError(500, `CheckID "${id}" does not have associated TTL`);
    if (!STATUSES.has(status)) throw new ConsulHttpError(400, `Invalid check status: "${status}"`);
    this.#setStatus(c, status as CheckStatus, output);
    this.#armCheck(c, false);
  }

  #parseCheck(d: Json, defaultId: string): Omit<CheckEntry, 'serviceId' | 'createIndex' | 'modifyIndex'> {
    const ttlMs = parseDuration(d.TTL);
    const http = str(d.HTTP);
    let intervalMs = parseDuration(d.Interval);
    if (!ttlMs && !http && !d.TCP && !d.Args && !d.GRPC && !d.AliasService) {
      throw new ConsulHttpError(400, 'Invalid check: TTL must be > 0 for TTL checks');
    }
    if (http && !intervalMs)
      throw new ConsulHttpError(400, 'Invalid check: Interval must be > 0 for Script, HTTP, H2PING, or TCP checks');
    if (intervalMs !== undefined && intervalMs < MIN_INTERVAL_MS) intervalMs = MIN_INTERVAL_MS;
    const status = str(d.Status, 'critical') || 'critical';
    if (!STATUSES.has(status))
      throw new ConsulHttpError(400, `Status for checks must 'passing', 'warning', 'critical'`);
    const dereg = parseDuration(d.DeregisterCriticalServiceAfter);
    const header: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(asObject(d.Header))) header[k] = Array.isArray(v) ? v.map(String) : [String(v)];
    return {
      checkId: str(d.CheckID) || str(d.ID) || defaultId,
      name: str(d.Name) || `Service '${defaultId}' check`,
      status: status as CheckStatus,
      notes: str(d.Notes),
      output: '',
      type: ttlMs ? 'ttl' : http ? 'http' : '',
      ttlMs,
      intervalMs,
      timeoutMs: parseDuration(d.Timeout) ?? 10_000,
      http: http || undefined,
      method: str(d.Method, 'GET') || 'GET',
      header,
      body: typeof d.Body === 'string' ? d.Body : undefined,
      deregisterAfterMs: dereg === undefined ? undefined : Math.max(dereg, MIN_DEREGISTER_MS),
    };
  }

  #putCheck(c: Omit<CheckEntry, 'createIndex' | 'modifyIndex'>, idx: number): void {
    const old = this.checks.get(c.checkId);
    if (old) this.#disarmCheck(old);
    const entry: CheckEntry = {
      ...c,
      createIndex: old?.createIndex ?? idx,
      modifyIndex: idx,
      criticalSince: c.status === 'critical' ? this.clock.now() : undefined,
    };
    this.checks.set(entry.checkId, entry);
    if (this.#running) this.#armCheck(entry, true);
  }

  #removeCheck(c: CheckEntry): void {
    this.#disarmCheck(c);
    this.checks.delete(c.checkId);
    // Sessions tied to this check are invalidated, as Consul does.
    for (const s of [...this.sessions.values()]) {
      if (s.nodeChecks.includes(c.checkId) || s.serviceChecks.some((x) => x.ID === c.checkId))
        this.#invalidateSession(s);
    }
  }

  #bumpServiceOf(serviceId: string, idx: number): void {
    const svc = serviceId ? this.services.get(serviceId) : undefined;
    if (svc) this.serviceIndex.set(svc.name, idx);
    else for (const name of this.serviceIndex.keys()) this.serviceIndex.set(name, idx); // node-level check
  }

  #setStatus(c: CheckEntry, status: CheckStatus, output: string): void {
    if (c.status === status) {
      // Output-only changes reach the catalog after check_update_interval (5 min) in Consul: no index bump,
      // so a health endpoint that prints timestamps does not wake every watcher at each poll.
      c.output = output;
      return;
    }
    const idx = this.#commit();
    if (status === 'critical' && c.status !== 'critical') c.criticalSince = this.clock.now();
    if (status !== 'critical') c.criticalSince = undefined;
    c.status = status;
    c.output = output;
    c.modifyIndex = idx;
    this.#bumpServiceOf(c.serviceId, idx);
    for (const s of [...this.sessions.values()]) {
      if (
        status === 'critical' &&
        (s.nodeChecks.includes(c.checkId) || s.serviceChecks.some((x) => x.ID === c.checkId))
      ) {
        this.#invalidateSession(s);
      }
    }
  }

  #disarmCheck(c: CheckEntry): void {
    if (c.timer) this.clock.clearTimeout(c.timer);
    c.timer = undefined;
    c.abort?.abort();
    c.abort = undefined;
  }

  #armCheck(c: CheckEntry, initial: boolean): void {
    if (!this.#running) return;
    if (c.timer) this.clock.clearTimeout(c.timer);
    if (c.type === 'ttl' && c.ttlMs) {
      c.timer = this.clock.setTimeout(() => {
        c.timer = undefined;
        if (this.checks.get(c.checkId) === c) this.#setStatus(c, 'critical', 'TTL expired');
      }, c.ttlMs);
      c.timer.unref();
    } else if (c.type === 'http' && c.intervalMs) {
      // Consul staggers the first run; the emulator runs it at once so tests need not wait an interval.
      c.timer = this.clock.setTimeout(() => void this.#runHttpCheck(c), initial ? 0 : c.intervalMs);
      c.timer.unref();
    }
  }

  async #runHttpCheck(c: CheckEntry): Promise<void> {
    c.timer = undefined;
    if (this.checks.get(c.checkId) !== c || !c.http) return;
    const abort = new AbortController();
    c.abort = abort;
    const timeout = setTimeout(() => abort.abort(), c.timeoutMs ?? 10_000);
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
      clearTimeout(timeout);
    }
    if (c.abort !== abort || this.checks.get(c.checkId) !== c) return; // disarmed or replaced meanwhile
    c.abort = undefined;
    this.#setStatus(c, status, output);
    this.#armCheck(c, false);
  }

  #reap(): void {
    const now = this.clock.now();
    for (const c of [...this.checks.values()]) {
      if (c.deregisterAfterMs === undefined || c.criticalSince === undefined || !c.serviceId) continue;
      if (now - c.criticalSince >= c.deregisterAfterMs && this.services.has(c.serviceId))
        this.deregisterService(c.serviceId);
    }
  }

  // ---------------------------------------------------------------- views

  serviceJson(s: ServiceEntry): Json {
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

  checkJson(c: CheckEntry): Json {
    const svc = c.serviceId ? this.services.get(c.serviceId) : undefined;
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
      Timeout: c.type === 'http' ? formatDuration(c.timeoutMs ?? 10_000) : '',
      Definition: {},
      CreateIndex: c.createIndex,
      ModifyIndex: c.modifyIndex,
    };
  }

  nodeJson(): Json {
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

  serfHealthJson(): Json {
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
  healthService(name: string, tags: string[], passingOnly: boolean): { index: number; body: Json[] } {
    const index = this.serviceIndex.get(name) ?? this.tables.services;
    const body: Json[] = [];
    for (const s of this.services.values()) {
      if (s.name !== name || !tags.every((t) => s.tags.includes(t))) continue;
      const checks = [...this.checks.values()].filter((c) => c.serviceId === s.id || c.serviceId === '');
      if (passingOnly && checks.some((c) => c.status !== 'passing')) continue;
      body.push({
        Node: this.nodeJson(),
        Service: this.serviceJson(s),
        Checks: [this.serfHealthJson(), ...checks.map((c) => this.checkJson(c))],
      });
    }
    return { index, body };
  }

  catalogServices(): Json {
    const out: Record<string, string[]> = { consul: [] };
    for (const s of this.services.values()) out[s.name] = [...new Set([...(out[s.name] ?? []), ...s.tags])];
    return out;
  }

  // ---------------------------------------------------------------- KV

  kvJson(e: KvEntry): Json {
    const json: Json = {
      LockIndex: e.lockIndex,
      Key: e.key,
      Flags: e.flags,
      Value: e.value.length === 0 ? null : e.value.toString('base64'),
      CreateIndex: e.createIndex,
      ModifyIndex: e.modifyIndex,
    };
    if (e.session) json.Session = e.session;
    return json;
  }

  /** Entries under `prefix`, sorted, with Consul's index: max ModifyIndex incl. tombstones, else the table's. */
  kvList(prefix: string): { index: number; entries: KvEntry[] } {
    const entries = [...this.kv.values()]
      .filter((e) => e.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    let index = 0;
    for (const e of entries) index = Math.max(index, e.modifyIndex);
    for (const [k, i] of this.tombstones) if (k.startsWith(prefix)) index = Math.max(index, i);
    return { index: index || this.tables.kv, entries };
  }

  kvGet(key: string): { index: number; entry?: KvEntry } {
    const entry = this.kv.get(key);
    return { index: entry ? entry.modifyIndex : this.tables.kv, entry };
  }

  /** PUT /v1/kv/:key. Returns Consul's `true`/`false`. */
  kvPut(
    key: string,
    value: Buffer,
    opts: { flags?: number; cas?: number; acquire?: string; release?: string },
  ): boolean {
    const existing = this.kv.get(key);
    if (opts.cas !== undefined) {
      if (opts.cas === 0 ? existing !== undefined : existing?.modifyIndex !== opts.cas) return false;
    }
    let session = existing?.session;
    let lockIndex = existing?.lockIndex ?? 0;
    if (opts.acquire !== undefined) {
      const s = this.sessions.get(opts.acquire);
      if (!s) throw new ConsulHttpError(500, `invalid session "${opts.acquire}"`);
      if (existing?.session && existing.session !== opts.acquire) return false;
      const delayUntil = this.lockDelays.get(key);
      if (delayUntil !== undefined && this.clock.now() < delayUntil) return false;
      if (existing?.session !== opts.acquire) lockIndex += 1;
      session = opts.acquire;
    } else if (opts.release !== undefined) {
      if (!this.sessions.has(opts.release)) throw new ConsulHttpError(500, `invalid session "${opts.release}"`);
      if (existing?.session !== opts.release) return false;
      session = undefined;
    }
    const idx = this.#commit();
    this.kv.set(key, {
      key,
      value,
      // Consul sets Flags from the request on every PUT: a PUT without ?flags resets them to 0.
      flags: opts.flags ?? 0,
      createIndex: existing?.createIndex ?? idx,
      modifyIndex: idx,
      lockIndex,
      session,
    });
    this.tombstones.delete(key);
    this.tables.kv = idx;
    return true;
  }

  /** DELETE /v1/kv/:key (?recurse, ?cas). */
  kvDelete(key: string, opts: { recurse: boolean; cas?: number }): boolean {
    if (opts.cas !== undefined && !opts.recurse) {
      if (opts.cas === 0) return false; // "a 0 index will not delete the key"
      const e = this.kv.get(key);
      if (!e) return true; // nothing there: Consul reports success
      if (e.modifyIndex !== opts.cas) return false;
    }
    const victims = opts.recurse ? [...this.kv.keys()].filter((k) => k.startsWith(key)) : this.kv.has(key) ? [key] : [];
    if (victims.length === 0) return true;
    const idx = this.#commit();
    for (const k of victims) {
      this.kv.delete(k);
      this.tombstones.set(k, idx);
    }
    this.tables.kv = idx;
    return true;
  }

  // ---------------------------------------------------------------- sessions

  sessionJson(s: SessionEntry): Json {
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

  createSession(body: unknown): string {
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
        : typeof lockDelayRaw === 'number' && lockDelayRaw < 60
          ? lockDelayRaw * 1_000
          : (parseDuration(lockDelayRaw) ?? 15_000);
    const nodeChecks = Array.isArray(b.NodeChecks)
      ? b.NodeChecks.map(String)
      : Array.isArray(b.Checks)
        ? b.Checks.map(String)
        : ['serfHealth'];
    const serviceChecks = Array.isArray(b.ServiceChecks)
      ? b.ServiceChecks.map((x) => ({ ID: str(asObject(x).ID) }))
      : [];
    for (const c of [...nodeChecks, ...serviceChecks.map((x) => x.ID)]) {
      if (c === 'serfHealth') continue;
      const check = this.checks.get(c);
      if (!check) throw new ConsulHttpError(500, `Missing check '${c}' registration`);
      if (check.status === 'critical') throw new ConsulHttpError(500, `Check '${c}' is in critical state`);
    }
    const idx = this.#commit();
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
    this.sessions.set(s.id, s);
    this.tables.sessions = idx;
    this.#armSession(s);
    return s.id;
  }

  renewSession(id: string): SessionEntry | undefined {
    const s = this.sessions.get(id);
    if (s) this.#armSession(s);
    return s;
  }

  destroySession(id: string): void {
    const s = this.sessions.get(id);
    if (s) this.#invalidateSession(s);
  }

  #armSession(s: SessionEntry): void {
    if (s.timer) this.clock.clearTimeout(s.timer);
    s.timer = undefined;
    if (!s.ttlMs || !this.#running) return;
    s.timer = this.clock.setTimeout(() => {
      s.timer = undefined;
      if (this.sessions.get(s.id) === s) this.#invalidateSession(s);
    }, s.ttlMs * SESSION_TTL_MULTIPLIER);
    s.timer.unref();
  }

  #invalidateSession(s: SessionEntry): void {
    if (s.timer) this.clock.clearTimeout(s.timer);
    this.sessions.delete(s.id);
    const idx = this.#commit();
    this.tables.sessions = idx;
    const held = [...this.kv.values()].filter((e) => e.session === s.id);
    for (const e of held) {
      if (s.lockDelayMs > 0) this.lockDelays.set(e.key, this.clock.now() + s.lockDelayMs);
      if (s.behavior === 'delete') {
        this.kv.delete(e.key);
        this.tombstones.set(e.key, idx);
      } else {
        e.session = undefined;
        e.modifyIndex = idx;
      }
    }
    if (held.length > 0) this.tables.kv = idx;
  }
}
