/**
 * api-gateway (seed 003): `/api/<service>/…` through discovery round-robin, a breaker per service with seed
 * 003's defaults, smart retry by method (idempotent methods only, 3 retries at initialMs · 2ⁿ), a Redis rate
 * limit per client, JWT auth via auth-service, `GET /circuit-breaker/stats`, `POST /service-cache/clear`,
 * `/health`, `/metrics` and the operator dashboard: `@ballast/dashboard` mounted on `/dashboard` (breakers, the xiaoke
 * queue, event streams, sagas, instances, config — its actions allowed to an admin session opened on `/admin/login`).
 *
 * Secure by default: the rate limit keys on the TCP peer (`X-Forwarded-For` only from `gateway.trustedProxies`),
 * operator routes (`/admin/*`, `/service-cache/clear`) need a token with `role: 'admin'`, verified tokens are
 * cached in a bounded LRU no longer than they are valid, and breaker/retry/rate-limit settings reload from
 * config-center without a restart.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createHttpClient,
  type HttpClient,
  isBrokenCircuitError,
  isHttpStatusError,
  isTimeoutError,
  statsOf,
} from '@ballast/circuit-breaker';
import type { ConfigStore } from '@ballast/config-center';
import { createDashboard } from '@ballast/dashboard';
import { createHealthChecker } from '@ballast/discovery';
import { type EventEnvelope, OnEvent } from '@ballast/event-bus';
import type { Queue } from '@ballast/queue';
import { LRUCache } from 'lru-cache';
import proxyaddr from 'proxy-addr';
import type { Ctx } from './context';
import { isNoInstanceError } from './discovery';
import { listen, Router, readBody, send } from './http';
import type { Metrics } from './metrics';
import { createClientLimiter } from './rate-limit';
import type { SagaFeed } from './sagas';

const PUBLIC = new Set(['auth-service/register', 'auth-service/login']);
const EVENT_TYPES = [
  'user.registered',
  'user.login',
  'diagnosis.completed',
  'health_record.updated',
  'recommendation.generated',
  'system.alert',
] as const;
/** The admin session cookie `/admin/session` sets: the operator's JWT, HttpOnly, sent to the gateway only. */
const SESSION_COOKIE = 'hp_admin';
/** Served on `/admin/login`: hands the token in the URL's fragment (never sent to a server) to `/admin/session`. */
const LOGIN_PAGE = `<!doctype html><meta charset="utf-8"><title>health-platform: operator login</title>
<p id="s">Signing in…</p><script>
const t = new URLSearchParams(location.hash.slice(1)).get('token') || '';
history.replaceState(null, '', location.pathname);
fetch('/admin/session', { method: 'POST', headers: { authorization: 'Bearer ' + t } }).then((r) => {
  if (r.ok) location.replace('/dashboard/');
  else document.getElementById('s').textContent = 'Refused (' + r.status + '): the dashboard stays read-only.';
});
</script>`;

/** Seed 000's system.alert consumer on the ops side, written with a TS 5 standard decorator. */
class OpsConsole {
  readonly alerts: { at: string; severity: string; message: string; source: string }[] = [];
  constructor(readonly ctx: Ctx) {}

  @OnEvent('system.alert', { group: 'api-gateway.ops' })
  async onAlert(event: EventEnvelope<{ severity: string; message: string }>): Promise<void> {
    this.alerts.push({
      at: event.timestamp,
      severity: event.data.severity,
      message: event.data.message,
      source: event.source_service,
    });
    if (this.alerts.length > 20) this.alerts.shift();
    this.ctx.activity.add(
      'api-gateway',
      'alert',
      `ALERT (${event.data.severity}) from ${event.source_service}: ${event.data.message}`,
    );
  }
}

/**
 * What the dashboard shows besides the gateway's own state. The gateway holds no reference into another service,
 * so it outlives any of their restarts: sagas come from the saga store (listed by the saga.started activities
 * every process reports), xiaoke's queue through a handle of the gateway's own on the shared backend, the config
 * through a store of its own on the same Consul KV prefix.
 */
export interface GatewaySources {
  feed: SagaFeed;
  services: string[];
  /** xiaoke's queue (a handle on its backend). */
  queue: Queue<unknown>;
  /** xiaoke's scheduled-digest queue (its job schedulers). */
  digest: Queue<unknown>;
  /** The platform config's remote layer: the dashboard shows its versions and flips its flags. */
  configStore?: ConfigStore;
}

/** How long a verified token is trusted without asking auth-service again (never past its `exp`). */
const TOKEN_CACHE_MS = 30_000;
/** Calls a retired client may still be serving after a settings reload; it is closed once they had time to end. */
const REQUEST_TIMEOUT_MS = 10_000;

export async function startGateway(ctx: Ctx, metrics: Metrics, sources: GatewaySources) {
  const settings = () => ctx.config.get('gateway');
  const makeClient = (g: ReturnType<typeof settings>): HttpClient =>
    createHttpClient({
      // Each try picks an instance outlier detection has not ejected, and reports how it went.
      resolve: ctx.registry.target,
      timeoutMs: REQUEST_TIMEOUT_MS,
      retry: { maxRetries: 3, initialMs: g.retryInitialMs },
      // Seed 003's breaker defaults (50 %, 10 s window, volume 10) with the demo's shorter reset.
      breaker: { resetTimeoutMs: g.breakerResetMs },
      serviceId: 'api-gateway',
      logger: ctx.log,
    });
  const makeLimiter = (g: ReturnType<typeof settings>) =>
    createClientLimiter({
      redis: ctx.infra.redis,
      prefix: ctx.infra.prefix,
      limit: g.rateLimitPerSecond,
      burst: g.rateLimitBurst,
    });
  let client = makeClient(settings());
  // Breaker transitions go to the activity log (the story watches open → half-open → closed; the dashboard lists them).
  const watched = new WeakSet<object>();
  const watchBreakers = () => {
    for (const [name, b] of client.breakers()) {
      if (watched.has(b)) continue;
      watched.add(b);
      b.onStateChange((c) =>
        ctx.activity.add('api-gateway', 'breaker', `breaker ${name}: ${c.from} → ${c.to}`, {
          service: name,
          from: c.from,
          to: c.to,
        }),
      );
    }
  };
  let limiter = makeLimiter(settings());
  let trust = proxyaddr.compile([...settings().trustedProxies]);
  const retired = new Set<HttpClient>();
  // Hot reload (like Spring Cloud's refresh scope): new settings build a new client and limiter; calls already
  // running finish on the old client, which is closed afterwards. Breakers start CLOSED with the new settings.
  const unwatch = ctx.config.watch('gateway', (g, prev) => {
    const changed: string[] = [];
    if (g.breakerResetMs !== prev.breakerResetMs || g.retryInitialMs !== prev.retryInitialMs) {
      const old = client;
      client = makeClient(g);
      retired.add(old);
      setTimeout(() => {
        retired.delete(old);
        void old.close();
      }, REQUEST_TIMEOUT_MS).unref();
      changed.push(`breaker reset ${g.breakerResetMs} ms, retry ${g.retryInitialMs} ms`);
    }
    if (g.rateLimitPerSecond !== prev.rateLimitPerSecond || g.rateLimitBurst !== prev.rateLimitBurst) {
      limiter = makeLimiter(g);
      changed.push(`rate limit ${g.rateLimitPerSecond}/s burst ${g.rateLimitBurst}`);
    }
    if (g.trustedProxies.join() !== prev.trustedProxies.join()) {
      trust = proxyaddr.compile([...g.trustedProxies]);
      changed.push(`trusted proxies [${g.trustedProxies.join(', ')}]`);
    }
    if (changed.length)
      ctx.activity.add('api-gateway', 'reload', `config-center: gateway reloaded (${changed.join('; ')})`);
  });
  // The gateway's own /health: Redis (its rate limit) and auth-service (every authenticated call verifies there).
  const health = createHealthChecker({ checks: ctx.baseChecks(['auth-service']), intervalMs: 1_000, timeoutMs: 800 });
  health.start();
  const bus = ctx.bus('api-gateway');
  const ops = new OpsConsole(ctx);
  await bus.registerHandlers(ops);
  // Bounded: a flood of distinct (even valid) tokens cannot grow the gateway's memory.
  const tokens = new LRUCache<string, Record<string, unknown>>({ max: 10_000 });

  /** The client's address: the TCP peer, or what a trusted proxy says it forwarded for. */
  function clientAddress(req: IncomingMessage): string {
    return proxyaddr(req, trust);
  }

  async function authenticate(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!token) return undefined;
    const cached = tokens.get(token);
    if (cached) return cached;
    try {
      const r = await client.post<{ claims: Record<string, unknown> }>('auth-service', '/verify', { token });
      const expMs = typeof r.claims.exp === 'number' ? r.claims.exp * 1000 - Date.now() : 0;
      const ttl = Math.min(TOKEN_CACHE_MS, Math.floor(expMs));
      if (ttl > 0) tokens.set(token, r.claims, { ttl });
      return r.claims;
    } catch (error) {
      if (isHttpStatusError(error) && error.status === 401) return undefined;
      throw error;
    }
  }

  /** Operator routes: 401 without a valid token, 403 without `role: 'admin'`; true when the call may go on. */
  async function requireAdmin(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const claims = await authenticate(req);
    if (!claims) {
      send(res, 401, { error: 'operator route: missing or invalid bearer token' });
      return false;
    }
    if (claims.role !== 'admin') {
      send(res, 403, { error: 'operator route: the token has no admin role' });
      return false;
    }
    return true;
  }

  function breakerStats() {
    const out: Record<string, ReturnType<typeof statsOf>> = {};
    for (const [name, b] of client.breakers()) out[name] = statsOf(b);
    return { timestamp: new Date().toISOString(), circuitBreakers: out };
  }

  async function proxy(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const [, , service, ...rest] = url.pathname.split('/');
    if (!service) return send(res, 404, { error: 'no service in path' });
    const path = `/${rest.join('/')}${url.search}`;
    const clientKey = clientAddress(req);
    const decision = await limiter.check(clientKey);
    if (!decision.allowed) {
      return send(
        res,
        429,
        { error: 'rate limited' },
        { 'retry-after': String(Math.ceil(decision.retryAfterMs / 1000)) },
      );
    }
    let claims: Record<string, unknown> | undefined;
    if (!PUBLIC.has(`${service}/${rest.join('/')}`)) {
      claims = await authenticate(req);
      if (!claims) return send(res, 401, { error: 'missing or invalid bearer token' });
    }
    const method = req.method ?? 'GET';
    const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-forwarded-for': clientKey };
    if (claims?.sub) headers['x-user-id'] = String(claims.sub);
    const idem = req.headers['idempotency-key'];
    if (typeof idem === 'string') headers['idempotency-key'] = idem;
    try {
      const call = client.request(service, path, {
        method,
        headers,
        ...(body?.length ? { body: new Uint8Array(body) } : {}),
      });
      // The client makes a service's breaker on its first call (watched as soon as it exists).
      const upstream = await call.finally(watchBreakers);
      const text = await upstream.text();
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    } catch (error) {
      if (isBrokenCircuitError(error)) return send(res, 503, { error: `circuit open for ${service}`, service });
      if (isNoInstanceError(error)) return send(res, 503, { error: `no passing instance of ${service}`, service });
      if (isTimeoutError(error)) return send(res, 504, { error: `${service} timed out`, service });
      ctx.log.warn({ err: error, service }, 'gateway upstream error');
      return send(res, 502, { error: `${service} unreachable`, service });
    }
  }

  /** The gateway's breakers (the current client's: a settings reload replaces them) as the dashboard reads them. */
  const breakerView = {
    names: () => [...client.breakers().keys()],
    has: (name: string) => client.breakers().has(name),
    get: (name: string) => {
      const b = client.breakers().get(name);
      if (!b) throw new Error(`no breaker named ${name}`);
      return b;
    },
    stats: breakerStats,
  };

  /**
   * Who is at the dashboard: an admin (session cookie or bearer token, checked like every operator route), a
   * signed-in user without the admin role, or nobody.
   */
  async function dashboardUser(req: IncomingMessage): Promise<'admin' | 'user' | 'none'> {
    const who = async (r: IncomingMessage) => {
      const claims = await authenticate(r).catch(() => undefined);
      return claims ? (claims.role === 'admin' ? 'admin' : 'user') : 'none';
    };
    // A bearer token first (scripts), then the session cookie; a stale or malformed cookie never blocks a bearer.
    const bearer = req.headers.authorization ? await who(req) : 'none';
    if (bearer === 'admin') return bearer;
    const raw = /(?:^|;\s*)hp_admin=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    let token: string | undefined;
    try {
      token = raw === undefined ? undefined : decodeURIComponent(raw);
    } catch {
      return bearer; // not percent-encoding: not a session this gateway set
    }
    if (token === undefined) return bearer;
    const cookie = await who({ headers: { authorization: `Bearer ${token}` } } as IncomingMessage);
    return cookie === 'none' ? bearer : cookie;
  }
  const isAdmin = async (req: IncomingMessage) => (await dashboardUser(req)) === 'admin';

  // Lock keys to show: the dashboard reads this array on every request; the newest ten users' keys.
  const lockKeys: string[] = [];
  const offActivity = ctx.activity.onAdded((a) => {
    const user = a.kind === 'analysis-started' ? a.data?.userId : undefined;
    if (typeof user !== 'string' || lockKeys.includes(`user:${user}`)) return;
    lockKeys.unshift(`user:${user}`);
    lockKeys.length = Math.min(lockKeys.length, 10);
  });
  const dashboard = createDashboard({
    basePath: '/dashboard',
    title: 'health-platform',
    breakers: breakerView,
    queues: [sources.queue, sources.digest],
    buses: [{ name: 'health-platform', bus, types: EVENT_TYPES }],
    sagas: sources.feed.operations(),
    // The per-user locks (@WithLock('user:{userId}')) of the users whose analyses started lately, live.
    locks: { backend: ctx.locks.backend, resources: lockKeys, manager: ctx.locks },
    discovery: { backend: ctx.registry.discovery.backend, services: sources.services, client: ctx.registry.discovery },
    ...(sources.configStore ? { config: { name: 'health-platform', store: sources.configStore } } : {}),
    authorize: async (req, action) => {
      const ok = await isAdmin(req);
      if (ok) ctx.activity.add('api-gateway', 'dashboard', `dashboard: ${action.name} ${action.target}`);
      return ok;
    },
    liveIntervalMs: 1_000,
  });

  /** Calls through the gateway's own client (same breakers), for the dashboard's buttons. */
  async function traffic(service: string, path: string, n: number): Promise<Record<string, number>> {
    const outcomes: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      let k: string;
      try {
        k = String((await client.request(service, path).finally(watchBreakers)).status);
      } catch (error) {
        k = isBrokenCircuitError(error) ? 'breaker-open' : 'error';
      }
      outcomes[k] = (outcomes[k] ?? 0) + 1;
    }
    return outcomes;
  }

  const server = await listen(
    // Every route is handled in `raw` (proxying streams bodies through untouched).
    new Router(),
    {
      raw: (req, res) => {
        const url = new URL(req.url ?? '/', 'http://gateway');
        const p = url.pathname;
        const m = req.method ?? 'GET';
        const run = (fn: () => unknown) => {
          Promise.resolve()
            .then(fn)
            .catch((error) => send(res, 500, { error: error instanceof Error ? error.message : String(error) }));
          return true;
        };
        if (p.startsWith('/api/')) return run(() => proxy(req, res, url));
        if (p === '/health' && m === 'GET') return run(() => health.handler(req, res));
        if (p === '/metrics' && m === 'GET') return run(() => metrics.handler(req, res));
        if (p === '/circuit-breaker/stats' && m === 'GET') return run(() => send(res, 200, breakerStats()));
        if (p === '/service-cache/clear' && m === 'POST') {
          return run(async () => {
            if (!(await requireAdmin(req, res))) return;
            const cleared = ctx.registry.clearCache();
            client.clearCache();
            tokens.clear();
            send(res, 200, { success: true, message: 'Service cache cleared', cleared });
          });
        }
        if (p === '/' && m === 'GET') {
          res.writeHead(302, { location: '/dashboard/' });
          res.end();
          return true;
        }
        // The whole dashboard, reads included, is the operator's: it shows health data (queued analyses carry a
        // user's metrics), event payloads (emails) and saga state, on the gateway's public port. Nobody: 401 (a
        // page pointing at the login URL); a signed-in user without the admin role: 403. Actions are checked
        // again by the dashboard's `authorize` (and its CSRF token and Origin check).
        if (p === '/dashboard' || p.startsWith('/dashboard/')) {
          return run(async () => {
            const who = await dashboardUser(req);
            if (who === 'admin') return dashboard(req, res);
            const status = who === 'none' ? 401 : 403;
            const why =
              who === 'none'
                ? 'the dashboard needs an operator session: open the login URL the demo printed (/admin/login#token=…)'
                : 'the dashboard is for operators: this token has no admin role';
            if (p.startsWith('/dashboard/api/')) return send(res, status, { error: why });
            res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
            res.end(
              `<!doctype html><meta charset="utf-8"><title>health-platform: operators only</title><p id="denied">${why}</p>`,
            );
          });
        }
        if (p === '/admin/login' && m === 'GET') {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
          res.end(LOGIN_PAGE);
          return true;
        }
        // The dashboard's admin session: the bearer token, verified as an admin's, kept in an HttpOnly cookie.
        if (p === '/admin/session' && m === 'POST') {
          return run(async () => {
            if (!(await requireAdmin(req, res))) return;
            const token = (req.headers.authorization ?? '').slice(7);
            res.setHeader(
              'set-cookie',
              `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600`,
            );
            send(res, 200, { session: 'admin' });
          });
        }
        // Operator actions (admin token): flip a chaos switch in config-center, drive traffic.
        if (p === '/admin/chaos' && m === 'POST') {
          return run(async () => {
            if (!(await requireAdmin(req, res))) return;
            const { key, value } = JSON.parse((await readBody(req)).toString('utf8') || '{}') as {
              key: string;
              value: boolean | number;
            };
            const chaos = ctx.config.get('chaos');
            if (typeof key !== 'string' || !Object.hasOwn(chaos, key))
              return send(res, 400, { error: `unknown chaos switch ${key}` });
            const current = chaos[key as keyof typeof chaos];
            if (typeof value !== typeof current)
              return send(res, 400, { error: `chaos.${key} takes a ${typeof current}, not ${JSON.stringify(value)}` });
            // `set` is typed by path (and validated by the schema): the checked key is one of its chaos switches.
            await ctx.config.set(`chaos.${key}` as 'chaos.blockchain', value as boolean, {
              message: `dashboard: chaos.${key}=${value}`,
            });
            ctx.activity.add('api-gateway', 'chaos', `config-center: chaos.${key} = ${value}`);
            send(res, 200, { key, value });
          });
        }
        if (p === '/admin/traffic' && m === 'POST') {
          return run(async () => {
            if (!(await requireAdmin(req, res))) return;
            const { service, path, count } = JSON.parse((await readBody(req)).toString('utf8') || '{}') as {
              service: string;
              path: string;
              count?: number;
            };
            send(res, 200, await traffic(service, path, Math.min(50, count ?? 10)));
          });
        }
        return false;
      },
    },
  );
  await ctx.registry.register('api-gateway', 'api-gateway-1', server.port);

  return {
    name: 'api-gateway',
    port: server.port,
    url: `http://127.0.0.1:${server.port}`,
    get client() {
      return client;
    },
    clientAddress,
    breakerStats,
    ops,
    instances: [{ id: 'api-gateway-1', port: server.port }],
    async close() {
      unwatch();
      offActivity();
      health.stop();
      dashboard.close();
      await ctx.registry.deregister('api-gateway-1');
      await server.close();
      await Promise.all([client, ...retired].map((c) => c.close()));
      retired.clear();
    },
  };
}
