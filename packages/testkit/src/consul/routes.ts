/**
 * The emulator's HTTP API: ACL-token enforcement and the routing of each Consul endpoint Ballast uses (status,
 * agent, health, catalog, KV, session) to the store, blocking where Consul blocks.
 */

import type { ServerResponse } from 'node:http';
import { blocking } from './blocking';
import { catalogServices, checkJson, healthService, serviceJson } from './catalog';
import { deregisterCheck, registerCheck, updateTtlCheck } from './checks';
import { applyFilter, parseFilter } from './filter';
import { LABEL, type Reply, type Request } from './http';
import { kvDelete, kvGet, kvJson, kvList, kvPut } from './kv';
import { ConsulHttpError, NODE } from './model';
import { deregisterService, registerService } from './services';
import { createSession, destroySession, renewSession, sessionJson } from './sessions';
import type { ConsulStore } from './store';
import { runTxn } from './txn';

const MAX_KV_BYTES = 512 * 1024;

/** Routes one request; `acl.aclToken` is read per request, as the emulator's options object holds it. */
export async function route(s: ConsulStore, r: Request, res: ServerResponse, acl: Acl): Promise<Reply> {
  const p = r.path;
  if (!p.startsWith('/v1/status/') && acl.aclToken !== undefined) {
    // agent/http.go parseToken: the header (or a Bearer token), then ?token=, which wins.
    const auth = r.req.headers.authorization;
    const token =
      r.query.get('token') ??
      (r.req.headers['x-consul-token'] as string | undefined) ??
      (auth?.startsWith('Bearer ') ? auth.slice(7) : undefined);
    const denied = token !== undefined && acl.aclDeniedTokens?.includes(token) === true;
    if (token !== undefined && token !== '' && token !== acl.aclToken && !denied)
      throw new ConsulHttpError(403, 'ACL not found');
    if (token !== acl.aclToken) return unauthorised(s, r, res, acl, denied);
  }
  return routeAuthorised(s, r, res, acl);
}

type Acl = { readonly aclToken?: string; readonly aclDeniedTokens?: readonly string[]; readonly maxTxnOps?: number };

/**
 * A request whose token may read nothing (none: the anonymous token; or one of `aclDeniedTokens`) under a
 * default-deny policy, as Consul answers it: list reads are filtered (health, catalog and agent lists come back
 * empty, a recursive or keys KV read is a 404 as if the prefix were empty), a single-key read and every write are
 * 403 "Permission denied". `X-Consul-Results-Filtered-By-ACLs: true` says so only to a token that is not anonymous
 * (Server.maskResultsFilteredByACLs: no information leaks to unauthenticated callers).
 */
async function unauthorised(
  s: ConsulStore,
  r: Request,
  res: ServerResponse,
  acl: Acl,
  withToken: boolean,
): Promise<Reply> {
  const p = r.path;
  const filtered: Record<string, string> = withToken ? { 'X-Consul-Results-Filtered-By-ACLs': 'true' } : {};
  if (r.method === 'GET') {
    const list: [RegExp, unknown][] = [
      [/^\/v1\/health\/(service|checks)\/.+$/, []],
      [/^\/v1\/catalog\/service\/.+$/, []],
      [/^\/v1\/catalog\/services$/, {}],
      [/^\/v1\/agent\/(services|checks)$/, {}],
      [/^\/v1\/session\/(list|node\/.+)$/, []],
    ];
    for (const [re, empty] of list) {
      if (!re.test(p)) continue;
      // The real query runs (blocking, with its index); only what the token may see is returned.
      const reply = await routeAuthorised(s, r, res, acl);
      return { ...reply, json: empty, headers: { ...reply.headers, ...filtered } };
    }
    if (/^\/v1\/kv\//.test(p) && (r.flag('recurse') || r.flag('keys'))) {
      const reply = await routeAuthorised(s, r, res, acl);
      return { status: 404, index: reply.index ?? s.index, headers: filtered };
    }
  }
  throw new ConsulHttpError(403, 'Permission denied');
}

async function routeAuthorised(s: ConsulStore, r: Request, res: ServerResponse, acl: Acl): Promise<Reply> {
  const p = r.path;
  // ?dc names a datacenter: this single-node cluster is dc1; any other has no path (Consul answers 500).
  const dc = r.query.get('dc');
  if (dc && dc !== NODE.datacenter) throw new ConsulHttpError(500, `No path to datacenter`);
  const method = (...allowed: string[]) => {
    if (!allowed.includes(r.method)) throw new ConsulHttpError(405, `method ${r.method} not allowed`);
  };
  let m: RegExpExecArray | null;

  if (p === '/v1/status/leader') {
    method('GET');
    return { json: '127.0.0.1:8300' };
  }
  if (p === '/v1/status/peers') {
    method('GET');
    return { json: ['127.0.0.1:8300'] };
  }
  if (p === '/v1/agent/self') {
    method('GET');
    return {
      json: {
        Config: {
          Datacenter: NODE.datacenter,
          NodeName: NODE.name,
          NodeID: NODE.id,
          Server: true,
          Version: 'emulator',
        },
        Member: { Name: NODE.name, Addr: NODE.address, Port: 8301, Status: 1 },
        Meta: { 'consul-emulator': LABEL },
      },
    };
  }
  if (p === '/v1/agent/service/register') {
    method('PUT');
    registerService(s, await r.json(), r.flag('replace-existing-checks'));
    return {};
  }
  m = /^\/v1\/agent\/service\/deregister\/(.+)$/.exec(p);
  if (m) {
    method('PUT');
    deregisterService(s, m[1] as string);
    return {};
  }
  m = /^\/v1\/agent\/service\/(.+)$/.exec(p);
  if (m) {
    method('GET');
    const svc = s.services.get(m[1] as string);
    if (!svc) throw new ConsulHttpError(404, `unknown service ID: ${m[1]}`);
    return { json: serviceJson(svc) };
  }
  if (p === '/v1/agent/services') {
    method('GET');
    return { json: Object.fromEntries([...s.services.values()].map((x) => [x.id, serviceJson(x)])) };
  }
  if (p === '/v1/agent/checks') {
    method('GET');
    return { json: Object.fromEntries([...s.checks.values()].map((c) => [c.checkId, checkJson(s, c)])) };
  }
  if (p === '/v1/agent/check/register') {
    method('PUT');
    registerCheck(s, await r.json());
    return {};
  }
  m = /^\/v1\/agent\/check\/deregister\/(.+)$/.exec(p);
  if (m) {
    method('PUT');
    deregisterCheck(s, m[1] as string);
    return {};
  }
  m = /^\/v1\/agent\/check\/(pass|warn|fail|update)\/(.+)$/.exec(p);
  if (m) {
    method('PUT');
    const id = m[2] as string;
    if (m[1] === 'update') {
      const b = (await r.json()) as { Status?: string; Output?: string };
      updateTtlCheck(s, id, b.Status ?? '', b.Output ?? '');
    } else {
      const status = m[1] === 'pass' ? 'passing' : m[1] === 'warn' ? 'warning' : 'critical';
      updateTtlCheck(s, id, status, r.query.get('note') ?? '');
    }
    return {};
  }
  m = /^\/v1\/health\/service\/(.+)$/.exec(p);
  if (m) {
    method('GET');
    const name = m[1] as string;
    const tags = r.query.getAll('tag');
    const passing = r.flag('passing');
    const filter = r.query.get('filter');
    if (filter) parseFilter(filter); // a bad expression is a 400 before any blocking
    return blocking(s, r, res, () => {
      const out = healthService(s, name, tags, passing);
      return { index: out.index, json: applyFilter(out.body, filter) };
    });
  }
  m = /^\/v1\/health\/checks\/(.+)$/.exec(p);
  if (m) {
    method('GET');
    const name = m[1] as string;
    return blocking(s, r, res, () => ({
      index: s.serviceIndex.get(name) ?? s.tables.services,
      json: [...s.checks.values()]
        .filter((c) => s.services.get(c.serviceId)?.name === name)
        .map((c) => checkJson(s, c)),
    }));
  }
  if (p === '/v1/catalog/services') {
    method('GET');
    return blocking(s, r, res, () => ({ index: s.tables.services, json: catalogServices(s) }));
  }
  m = /^\/v1\/catalog\/service\/(.+)$/.exec(p);
  if (m) {
    method('GET');
    const name = m[1] as string;
    const tags = r.query.getAll('tag');
    const filter = r.query.get('filter');
    if (filter) parseFilter(filter);
    return blocking(s, r, res, () => ({
      index: s.serviceIndex.get(name) ?? s.tables.services,
      json: applyFilter(
        [...s.services.values()]
          .filter((x) => x.name === name && tags.every((t) => x.tags.includes(t)))
          .map((x) => ({
            Node: NODE.name,
            Address: NODE.address,
            Datacenter: NODE.datacenter,
            ServiceID: x.id,
            ServiceName: x.name,
            ServiceTags: x.tags,
            ServiceAddress: x.address,
            ServicePort: x.port,
            ServiceMeta: x.meta,
            CreateIndex: x.createIndex,
            ModifyIndex: x.modifyIndex,
          })),
        filter,
      ),
    }));
  }
  m = /^\/v1\/kv\/(.*)$/.exec(p);
  if (m) return kv(s, r, res, m[1] as string);
  if (p === '/v1/session/create') {
    method('PUT');
    const id = createSession(s, await r.json());
    return { json: { ID: id } };
  }
  m = /^\/v1\/session\/destroy\/(.+)$/.exec(p);
  if (m) {
    method('PUT');
    destroySession(s, m[1] as string);
    return { json: true };
  }
  m = /^\/v1\/session\/renew\/(.+)$/.exec(p);
  if (m) {
    method('PUT');
    const sess = renewSession(s, m[1] as string);
    if (!sess) throw new ConsulHttpError(404, `Session id '${m[1]}' not found`);
    return { json: [sessionJson(sess)] };
  }
  m = /^\/v1\/session\/info\/(.+)$/.exec(p);
  if (m) {
    method('GET');
    const id = m[1] as string;
    return blocking(s, r, res, () => {
      const sess = s.sessions.get(id);
      return { index: s.tables.sessions, json: sess ? [sessionJson(sess)] : [] };
    });
  }
  if (p === '/v1/session/list' || /^\/v1\/session\/node\/.+$/.test(p)) {
    method('GET');
    return blocking(s, r, res, () => ({
      index: s.tables.sessions,
      json: [...s.sessions.values()].map((x) => sessionJson(x)),
    }));
  }
  if (p === '/v1/txn') {
    method('PUT');
    const out = runTxn(s, await r.json(), acl.maxTxnOps);
    return { status: out.status, json: out.body, meta: out.readOnly ? 'leader' : 'none' };
  }
  throw new ConsulHttpError(404, '404 page not found');
}

/**
 * KV key names as Consul validates them since the CVE-2025-11392 fix (hashicorp/consul#22850, 1.21.6+/1.22; the
 * 1.21.5 character regex was withdrawn): no `..` path segment, no URL-encoded traversal, no leading or trailing
 * space. Every other character is allowed.
 */
export function validateKvKey(key: string): void {
  if (key === '') return;
  const why =
    key !== key.trim()
      ? 'leading or trailing spaces are not allowed'
      : key.split('/').some((seg) => seg === '..') || /\.\.\\/.test(key)
        ? 'path traversal is not allowed'
        : /%2e%2e(%2f|%5c|\/)|\.\.%2f|\.\.%5c|%252e%252e%252f/i.test(key)
          ? 'encoded path traversal is not allowed'
          : undefined;
  if (why) throw new ConsulHttpError(400, `invalid key name: ${why}`);
}

async function kv(s: ConsulStore, r: Request, res: ServerResponse, key: string): Promise<Reply> {
  validateKvKey(r.rawPath.startsWith('/v1/kv/') ? r.rawPath.slice('/v1/kv/'.length) : key);
  if (r.method === 'GET') {
    const recurse = r.flag('recurse');
    const keysOnly = r.flag('keys');
    const raw = r.flag('raw');
    const separator = r.query.get('separator') ?? '';
    return blocking(s, r, res, () => {
      if (keysOnly) {
        const { index, entries } = kvList(s, key);
        const keys = new Set<string>();
        for (const e of entries) {
          const at = separator ? e.key.indexOf(separator, key.length) : -1;
          keys.add(at === -1 ? e.key : e.key.slice(0, at + separator.length));
        }
        return keys.size === 0 ? { status: 404, index } : { index, json: [...keys] };
      }
      if (recurse) {
        const { index, entries } = kvList(s, key);
        return entries.length === 0 ? { status: 404, index } : { index, json: entries.map((e) => kvJson(e)) };
      }
      const { index, entry } = kvGet(s, key);
      if (!entry) return { status: 404, index };
      return raw ? { index, raw: entry.value } : { index, json: [kvJson(entry)] };
    });
  }
  if (!key) throw new ConsulHttpError(400, 'Missing key name');
  if (r.method === 'PUT') {
    const flags = r.uint('flags');
    const cas = r.uint('cas');
    const acquire = r.query.get('acquire') ?? undefined;
    const release = r.query.get('release') ?? undefined;
    conflictingFlags(r, 'cas', 'acquire', 'release');
    const value = await r.body(MAX_KV_BYTES);
    return { json: kvPut(s, key, value, { flags, cas, acquire, release }) };
  }
  if (r.method === 'DELETE') {
    conflictingFlags(r, 'recurse', 'cas');
    return { json: kvDelete(s, key, { recurse: r.flag('recurse'), cas: r.uint('cas') }) };
  }
  throw new ConsulHttpError(405, `method ${r.method} not allowed`);
}

/** agent/kvs_endpoint.go `conflictingFlags`: two of these flags together → 400 "Conflicting flags: <query>". */
function conflictingFlags(r: Request, ...flags: string[]): void {
  if (flags.filter((f) => r.query.has(f)).length < 2) return;
  const sorted = new URLSearchParams([...r.query.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  throw new ConsulHttpError(400, `Conflicting flags: ${sorted.toString()}`);
}
