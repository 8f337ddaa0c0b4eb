/**
 * user-service is a NestJS app on @ballast/nestjs (issue 26 §2), probed in its own process
 * (test/fixtures/user-service-probe.ts under tsx, like the demo): it keeps the example's instance id, /health and
 * `{ error }` bodies of the plain Router it replaced, and its @OnEvent handlers subscribe through BallastModule.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
type Answer = { status: number; poweredBy: string | null; body: Record<string, unknown> };
let probe: Record<string, Answer> & {
  instances: string[];
  health: number;
  activities: string[];
  closed: boolean;
  error?: string;
};

beforeAll(async () => {
  const out = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/user-service-probe.ts'], {
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

it('serves the routes from the Nest app under the same instance id and /health', () => {
  expect(probe.instances).toEqual(['user-service-1']);
  expect(probe.whoami!.body).toEqual({ service: 'user-service', instance: 'user-service-1' });
  expect(probe.health).toBe(200);
  expect(probe.create!.poweredBy).toBe('Express'); // Nest's platform-express answered, not the example's Router
  expect(probe.create!.status).toBe(200);
  expect(probe.create!.body).toMatchObject({ userId: 'u-probe', username: 'ann', logins: 0, welcomeMailSent: false });
  // createProfile (under @WithLock) keeps the first profile of a user.
  expect(probe.again!.body).toEqual(probe.create!.body);
  expect(probe.closed).toBe(true);
});

it('answers bad requests with the example’s { error } bodies', () => {
  expect([probe.missing!.status, probe.missing!.body]).toEqual([400, { error: 'missing field "email"' }]);
  expect([probe.notJson!.status, probe.notJson!.body]).toEqual([400, { error: 'body is not JSON' }]);
  expect([probe.unknownUser!.status, probe.unknownUser!.body]).toEqual([404, { error: 'no user nobody' }]);
  expect([probe.noRoute!.status, probe.noRoute!.body]).toEqual([404, { error: 'no route GET /nothing' }]);
});

it('runs its @OnEvent handlers (subscribed by BallastModule) and @WithLock method', () => {
  expect(probe.activities).toEqual(['welcome mail sent to ann@example.com', 'last login of ann updated']);
  expect(probe.afterEvents!.body).toMatchObject({ welcomeMailSent: true, logins: 1 });
});
