/**
 * `PUT /v1/txn`, KV operations, as https://developer.hashicorp.com/consul/api-docs/txn documents them and Consul's
 * state store (`agent/consul/state/txn.go`, `agent/txn_endpoint.go`) implements them: every operation runs against
 * one working copy at one Raft index; all errors are collected (`OpIndex`, `What`) and any error rolls the whole
 * transaction back (HTTP 409, `Results: null`); a transaction without writes is a read (fast path: only
 * `X-Consul-LastContact`/`X-Consul-KnownLeader`, no index); more operations than the cap → 413.
 */
import { kvJson } from './kv';
import { asObject, ConsulHttpError, type Json, type KvEntry, str } from './model';
import type { ConsulStore } from './store';

/** Consul's `maxTxnOps`: the Transactions API page documents "up to 128 operations"; older releases allowed 64. */
export const DEFAULT_MAX_TXN_OPS = 128;
const MAX_KV_BYTES = 512 * 1024;

const WRITE_VERBS = new Set(['set', 'delete', 'delete-cas', 'delete-tree', 'cas', 'lock', 'unlock']);

interface KvOp {
  verb: string;
  key: string;
  value: Buffer;
  flags: number;
  index: number;
  session: string;
}

export interface TxnReply {
  status: number;
  /** Read-only transactions are fast-pathed as reads: leader headers, no index. Writes: no Consul headers. */
  readOnly: boolean;
  body: { Results: Json[] | null; Errors: { OpIndex: number; What: string }[] | null };
}

function parseOps(body: unknown): KvOp[] {
  if (!Array.isArray(body)) throw new ConsulHttpError(400, 'Failed to parse body: expected a JSON array of operations');
  return body.map((raw, i) => {
    const op = asObject(raw);
    if (op.KV === undefined) {
      // Node/Service/Check/Session operations: not emulated; say so rather than pretend.
      throw new ConsulHttpError(400, `Failed to parse body: operation ${i}: only KV operations are emulated`);
    }
    const kv = asObject(op.KV);
    const value = kv.Value == null ? Buffer.alloc(0) : Buffer.from(str(kv.Value), 'base64');
    if (value.length > MAX_KV_BYTES) {
      throw new ConsulHttpError(
        413,
        `Value for key ${JSON.stringify(str(kv.Key))} is too large (${value.length} > ${MAX_KV_BYTES} bytes)`,
      );
    }
    const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);
    return {
      verb: str(kv.Verb),
      key: str(kv.Key),
      value,
      flags: num(kv.Flags),
      index: num(kv.Index),
      session: str(kv.Session),
    };
  });
}

/** Runs one transaction; the store changes only when every operation succeeded. */
export function runTxn(store: ConsulStore, body: unknown, maxOps = DEFAULT_MAX_TXN_OPS): TxnReply {
  if (Array.isArray(body) && body.length > maxOps) {
    throw new ConsulHttpError(413, `Transaction contains too many operations (${body.length} > ${maxOps})`);
  }
  const ops = parseOps(body);
  const readOnly = !ops.some((o) => WRITE_VERBS.has(o.verb));
  // The working copy every operation sees (later operations see earlier ones' writes, as in one memdb txn).
  const kv = new Map(store.kv);
  const tombstones = new Map(store.tombstones);
  const lockDelays = new Map<string, number>();
  const idx = store.index + 1;
  const results: Json[] = [];
  const errors: { OpIndex: number; What: string }[] = [];
  const q = JSON.stringify;

  const write = (op: KvOp, session: string | undefined, lockIndex: number): KvEntry => {
    const existing = kv.get(op.key);
    const entry: KvEntry = {
      key: op.key,
      value: op.value,
      flags: op.flags,
      createIndex: existing?.createIndex ?? idx,
      modifyIndex: idx,
      lockIndex,
      ...(session ? { session } : {}),
    };
    kv.set(op.key, entry);
    tombstones.delete(op.key);
    return entry;
  };
  const remove = (key: string) => {
    if (kv.delete(key)) tombstones.set(key, idx);
  };
  /** A write's result: the entry without its value (the docs: Value is null except for get/get-tree). */
  const meta = (e: KvEntry) => ({ KV: { ...kvJson(e), Value: null } });

  const step = (op: KvOp, i: number): void => {
    const fail = (what: string) => errors.push({ OpIndex: i, What: what });
    const existing = kv.get(op.key);
    switch (op.verb) {
      case 'set':
        results.push(meta(write(op, existing?.session, existing?.lockIndex ?? 0)));
        return;
      case 'cas':
        if (op.index === 0 ? existing !== undefined : existing?.modifyIndex !== op.index) {
          fail(`failed to set key ${q(op.key)}, index is stale`);
          return;
        }
        results.push(meta(write(op, existing?.session, existing?.lockIndex ?? 0)));
        return;
      case 'lock': {
        const session = store.sessions.get(op.session);
        if (!session) return void fail(`invalid session ${q(op.session)}`);
        const delay = store.lockDelays.get(op.key);
        const held = existing?.session !== undefined && existing.session !== op.session;
        if (held || (delay !== undefined && store.clock.now() < delay)) {
          return void fail(`failed to lock key ${q(op.key)}, lock is already held`);
        }
        const lockIndex = (existing?.lockIndex ?? 0) + (existing?.session === op.session ? 0 : 1);
        results.push(meta(write(op, op.session, lockIndex)));
        return;
      }
      case 'unlock': {
        if (existing?.session !== op.session || !op.session) {
          return void fail(`failed to unlock key ${q(op.key)}, lock isn't held, or is held by another session`);
        }
        const s = store.sessions.get(op.session);
        if (s && s.lockDelayMs > 0) lockDelays.set(op.key, store.clock.now() + s.lockDelayMs);
        results.push(meta(write(op, undefined, existing.lockIndex)));
        return;
      }
      case 'get':
        if (!existing) return void fail(`key ${q(op.key)} doesn't exist`);
        results.push({ KV: kvJson(existing) });
        return;
      case 'get-or-empty':
        results.push({
          KV: existing
            ? kvJson(existing)
            : { LockIndex: 0, Key: op.key, Flags: 0, Value: null, CreateIndex: 0, ModifyIndex: 0 },
        });
        return;
      case 'get-tree':
        for (const e of [...kv.values()]
          .filter((x) => x.key.startsWith(op.key))
          .sort((a, b) => (a.key < b.key ? -1 : 1)))
          results.push({ KV: kvJson(e) });
        return;
      case 'check-index':
        if (!existing) return void fail(`failed to check index, key ${q(op.key)} doesn't exist`);
        if (existing.modifyIndex !== op.index) {
          return void fail(
            `failed index check for key ${q(op.key)}, current modify index ${existing.modifyIndex} != ${op.index}`,
          );
        }
        results.push(meta(existing));
        return;
      case 'check-session':
        if (!existing) return void fail(`failed to check session, key ${q(op.key)} doesn't exist`);
        if ((existing.session ?? '') !== op.session) {
          return void fail(
            `failed session check for key ${q(op.key)}, current session ${q(existing.session ?? '')} != ${q(op.session)}`,
          );
        }
        results.push(meta(existing));
        return;
      case 'check-not-exists':
        if (existing) fail(`key ${q(op.key)} exists`);
        return;
      case 'delete':
        remove(op.key);
        return;
      case 'delete-tree':
        for (const k of [...kv.keys()]) if (k.startsWith(op.key)) remove(k);
        return;
      case 'delete-cas':
        // Consul's kvsDeleteCASTxn: a missing key is a success; otherwise the index must match.
        if (existing && existing.modifyIndex !== op.index) {
          return void fail(`failed to delete key ${q(op.key)}, index is stale`);
        }
        remove(op.key);
        return;
      default:
        fail(`unknown KV verb ${q(op.verb)}`);
    }
  };
  for (const [i, op] of ops.entries()) step(op, i);

  if (errors.length > 0) return { status: 409, readOnly, body: { Results: null, Errors: errors } };
  if (!readOnly) {
    const committed = store.commit();
    if (committed !== idx) throw new Error(`txn index ${idx} != committed ${committed}`);
    store.kv.clear();
    for (const [k, v] of kv) store.kv.set(k, v);
    store.tombstones.clear();
    for (const [k, v] of tombstones) store.tombstones.set(k, v);
    for (const [k, v] of lockDelays) store.lockDelays.set(k, v);
    store.tables.kv = idx;
  }
  return { status: 200, readOnly, body: { Results: results, Errors: null } };
}
