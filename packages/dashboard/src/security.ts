/**
 * CSRF protection for actions. A session is an HttpOnly, SameSite=Strict cookie holding a random id; the page
 * carries `HMAC(secret, id)` and every action must send it back in the `x-ballast-csrf` header. Another site
 * can neither read the page (same-origin policy) nor forge the header, and an action whose `Origin` (or
 * `Sec-Fetch-Site`) says it came from elsewhere is refused before the token is even looked at.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const CSRF_HEADER = 'x-ballast-csrf';
const COOKIE = 'ballast_dashboard_session';

export class Csrf {
  readonly #secret: string;
  readonly #path: string;

  constructor(secret: string | undefined, basePath: string) {
    this.#secret = secret ?? randomBytes(32).toString('hex');
    this.#path = basePath;
  }

  /** The session of this request, starting one (a Set-Cookie on `res`) when it has none; returns its token. */
  tokenFor(req: IncomingMessage, res: ServerResponse): string {
    let id = sessionOf(req);
    if (!id) {
      id = randomBytes(18).toString('base64url');
      const secure = isTls(req) ? '; Secure' : '';
      res.setHeader('set-cookie', `${COOKIE}=${id}; Path=${this.#path}; HttpOnly; SameSite=Strict${secure}`);
    }
    return this.#sign(id);
  }

  /** Why an action request is refused, or undefined when it passes. */
  check(req: IncomingMessage): string | undefined {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== expectedOrigin(req)) return `cross-origin request from ${origin}`;
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin') return `cross-site request (${site})`;
    const id = sessionOf(req);
    const given = req.headers[CSRF_HEADER];
    if (!id || typeof given !== 'string') return 'missing session or CSRF token';
    const want = Buffer.from(this.#sign(id));
    const got = Buffer.from(given);
    if (got.length !== want.length || !timingSafeEqual(got, want)) return 'bad CSRF token';
    return undefined;
  }

  #sign(id: string): string {
    return createHmac('sha256', this.#secret).update(id).digest('base64url');
  }
}

function sessionOf(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === COOKIE && v && /^[A-Za-z0-9_-]{24}$/.test(v)) return v;
  }
  return undefined;
}

function isTls(req: IncomingMessage): boolean {
  return (req.socket as { encrypted?: boolean }).encrypted === true || req.headers['x-forwarded-proto'] === 'https';
}

function expectedOrigin(req: IncomingMessage): string {
  return `${isTls(req) ? 'https' : 'http'}://${req.headers.host ?? ''}`;
}
