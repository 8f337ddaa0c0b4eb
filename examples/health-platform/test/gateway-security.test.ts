/**
 * The gateway is secure by default (issue 26 §4), probed against the real platform (test/fixtures/security-probe.ts
 * under tsx, like the demo itself):
 * - the rate limit keys on the TCP peer: a client cannot mint itself fresh buckets with random `X-Forwarded-For`
 *   values (before: 800 of 800 such requests passed); the header counts only from `gateway.trustedProxies`,
 *   and that list (with the limit itself) reloads from config-center without a restart;
 * - operator routes need a token with `role: 'admin'` (401 without a token, 403 with a user's);
 * - so does the dashboard, its reads included (they show health data, event payloads, sagas), and an anonymous or
 *   user's dashboard action is refused by the gateway and changes nothing;
 * - a verified token is not trusted from the gateway's cache past its own `exp`.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
let probe: {
  spoofed: Record<string, number>;
  spoofedKey: string;
  forwarded: Record<string, number>;
  forwardedKey: string;
  routes: Record<string, number[]>;
  dashboard: Record<string, number[]>;
  dashboardAction: Record<'none' | 'user', { status: number; error: string }>;
  chaosXiaokeAfter: boolean;
  expiry: { first: number; after: number; refusedAfterMs: number };
  error?: string;
};

beforeAll(async () => {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/security-probe.ts'], {
      cwd: root,
      env: { ...process.env, BALLAST_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    child.on('error', reject);
    child.on('exit', () => resolve(text));
  });
  const line = out.split('\n').find((l) => l.startsWith('PROBE '));
  if (!line) throw new Error(`the probe printed no result:\n${out}`);
  probe = JSON.parse(line.slice(6));
  if (probe.error) throw new Error(probe.error);
}, 90_000);

it('keys the rate limit on the peer address, not on a spoofed X-Forwarded-For', () => {
  // Limit 1/s, burst 5: 40 requests from one peer, each with a different X-Forwarded-For, share one bucket.
  expect(probe.spoofed['429'] ?? 0).toBeGreaterThanOrEqual(30);
  expect(probe.spoofedKey).toBe('127.0.0.1');
});

it('honours X-Forwarded-For from a configured trusted proxy, reloaded from config-center', () => {
  expect(probe.forwarded['429'] ?? 0).toBe(0);
  expect(probe.forwardedKey).toBe('203.0.113.9');
});

it('refuses operator routes without an admin token', () => {
  for (const [path, [none, user, admin]] of Object.entries(probe.routes)) {
    expect([path, none, user, admin]).toEqual([path, 401, 403, 200]);
  }
});

it('keeps the dashboard, reads included, to operators', () => {
  expect(Object.keys(probe.dashboard)).toHaveLength(4);
  for (const [path, [none, user, admin]] of Object.entries(probe.dashboard)) {
    expect([path, none, user, admin]).toEqual([path, 401, 403, 200]);
  }
});

it('refuses an anonymous or a user’s dashboard action at the gateway, changing nothing', () => {
  expect(probe.dashboardAction.none).toEqual({
    status: 401,
    error: expect.stringContaining('needs an operator session'),
  });
  expect(probe.dashboardAction.user).toEqual({ status: 403, error: expect.stringContaining('no admin role') });
  expect(probe.chaosXiaokeAfter).toBe(false);
});

it('does not trust a cached token past its expiry', () => {
  expect(probe.expiry.first).toBe(200);
  expect(probe.expiry.after).toBe(401);
});
