/**
 * The KV store: reads with Consul's index rules (tombstones count), writes with check-and-set, and lock
 * acquire/release against sessions (lock index, lock delay).
 */
import { ConsulHttpError, type Json, type KvEntry } from './model';
import type { ConsulStore } from './store';

export function kvJson(e: KvEntry): Json {
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
export function kvList(store: ConsulStore, prefix: string): { index: number; entries: KvEntry[] } {
  const entries = [...store.kv.values()]
    .filter((e) => e.key.startsWith(prefix))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
  let index = 0;
  for (const e of entries) index = Math.max(index, e.modifyIndex);
  for (const [k, i] of store.tombstones) if (k.startsWith(prefix)) index = Math.max(index, i);
  return { index: index || store.tables.kv, entries };
}

export function kvGet(store: ConsulStore, key: string): { index: number; entry?: KvEntry } {
  const entry = store.kv.get(key);
  return { index: entry ? entry.modifyIndex : store.tables.kv, entry };
}

/** PUT /v1/kv/:key. Returns Consul's `true`/`false`. */
export function kvPut(
  store: ConsulStore,
  key: string,
  value: Buffer,
  opts: { flags?: number; cas?: number; acquire?: string; release?: string },
): boolean {
  const existing = store.kv.get(key);
  if (opts.cas !== undefined) {
    if (opts.cas === 0 ? existing !== undefined : existing?.modifyIndex !== opts.cas) return false;
  }
  let session = existing?.session;
  let lockIndex = existing?.lockIndex ?? 0;
  if (opts.acquire !== undefined) {
    const s = store.sessions.get(opts.acquire);
    if (!s) throw new ConsulHttpError(500, `invalid session "${opts.acquire}"`);
    if (existing?.session && existing.session !== opts.acquire) return false;
    const delayUntil = store.lockDelays.get(key);
    if (delayUntil !== undefined && store.clock.now() < delayUntil) return false;
    if (existing?.session !== opts.acquire) lockIndex += 1;
    session = opts.acquire;
  } else if (opts.release !== undefined) {
    // Consul's kvsUnlockTxn does not look the session up: a dead (or unknown) session simply does not hold it.
    if (existing?.session !== opts.release) return false;
    session = undefined;
  }
  const idx = store.commit();
  store.kv.set(key, {
    key,
    value,
    // Consul sets Flags from the request on every PUT: a PUT without ?flags resets them to 0.
    flags: opts.flags ?? 0,
    createIndex: existing?.createIndex ?? idx,
    modifyIndex: idx,
    lockIndex,
    session,
  });
  store.tombstones.delete(key);
  store.tables.kv = idx;
  return true;
}

/** DELETE /v1/kv/:key (?recurse, ?cas). */
export function kvDelete(store: ConsulStore, key: string, opts: { recurse: boolean; cas?: number }): boolean {
  if (opts.cas !== undefined && !opts.recurse) {
    // Consul's kvsDeleteCASTxn: a missing key is a success (cas=0 included); an existing one must match.
    const e = store.kv.get(key);
    if (!e) return true;
    if (e.modifyIndex !== opts.cas) return false;
  }
  const victims = opts.recurse ? [...store.kv.keys()].filter((k) => k.startsWith(key)) : store.kv.has(key) ? [key] : [];
  if (victims.length === 0) return true;
  const idx = store.commit();
  for (const k of victims) {
    store.kv.delete(k);
    store.tombstones.set(k, idx);
  }
  store.tables.kv = idx;
  return true;
}
