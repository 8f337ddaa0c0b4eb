/**
 * auth-service: registration, login and JWT (HS256 with node:crypto). Publishes user.registered and
 * user.login; the gateway verifies tokens through `POST /verify`. The secret comes from config-center.
 */
import { createHmac, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Ctx } from '../context';
import { HttpError, Router, requireFields } from '../http';

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64url');

export function signJwt(claims: Record<string, unknown>, secret: string, ttlSeconds: number): string {
  const now = Math.floor(Date.now() / 1000);
  const head = b64(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64(JSON.stringify({ ...claims, iat: now, exp: now + ttlSeconds }));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

export function verifyJwt(token: string, secret: string): Record<string, unknown> | undefined {
  const [head, body, sig] = token.split('.');
  if (!head || !body || !sig) return undefined;
  const want = Buffer.from(createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url'));
  const got = Buffer.from(sig);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return undefined;
  return claims;
}

interface Account {
  userId: string;
  email: string;
  username: string;
  hash: Buffer;
  salt: string;
}

export async function startAuthService(ctx: Ctx) {
  const accounts = new Map<string, Account>();
  const bus = ctx.bus('auth-service');
  const secret = () => ctx.config.get('auth.jwtSecret');
  const router = new Router();

  router.post('/register', async (req) => {
    const { email, username, password } = requireFields<{ email: string; username: string; password: string }>(
      req.body,
      ['email', 'username', 'password'],
    );
    if (accounts.has(email)) throw new HttpError(409, `${email} is already registered`);
    const userId = `u-${randomUUID().slice(0, 8)}`;
    const salt = randomUUID();
    // The profile lives in user-service: create it first, so a failed call leaves no half-registered account.
    await ctx.client.post('user-service', '/users', { userId, email, username });
    accounts.set(email, { userId, email, username, salt, hash: scryptSync(password, salt, 32) });
    await bus.publish('user.registered', { email, username }, { userId });
    ctx.activity.add('auth-service', 'registered', `registered ${username} <${email}> as ${userId}`, { userId });
    return { userId };
  });

  router.post('/login', async (req) => {
    const { email, password } = requireFields<{ email: string; password: string }>(req.body, ['email', 'password']);
    const account = accounts.get(email);
    if (!account || !timingSafeEqual(account.hash, scryptSync(password, account.salt, 32))) {
      throw new HttpError(401, 'invalid email or password');
    }
    const admin = ctx.config.get('auth.adminEmails').includes(email);
    const token = signJwt(
      { sub: account.userId, email, username: account.username, ...(admin ? { role: 'admin' } : {}) },
      secret(),
      ctx.config.get('auth.tokenTtlSeconds'),
    );
    const ip = String(req.headers['x-forwarded-for'] ?? req.raw.socket.remoteAddress ?? '');
    await bus.publish('user.login', { email, ip, suspicious: false }, { userId: account.userId });
    ctx.activity.add('auth-service', 'login', `${account.username} logged in, JWT issued`, { userId: account.userId });
    return { token, userId: account.userId };
  });

  router.post('/verify', (req) => {
    const { token } = requireFields<{ token: string }>(req.body, ['token']);
    const claims = verifyJwt(token, secret());
    if (!claims) throw new HttpError(401, 'invalid or expired token');
    return { valid: true, claims };
  });

  return ctx.serve('auth-service', router, { dependsOn: ['user-service'] });
}
