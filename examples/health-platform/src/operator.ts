/**
 * The demo's operator account: `auth.adminEmails` lists who gets `role: 'admin'` at login, so the operator signs
 * up and logs in through the gateway like any user (with a password generated per run) and receives a token the
 * gateway accepts on `/admin/*`, `/service-cache/clear` and the dashboard's buttons.
 */
import { randomBytes } from 'node:crypto';
import type { Stack } from './platform';

export async function operatorToken(platform: Pick<Stack, 'config' | 'gatewayUrl'>): Promise<string> {
  const email = platform.config.get('auth.adminEmails')[0];
  if (!email) throw new Error('auth.adminEmails is empty: no operator account can be created');
  const password = randomBytes(18).toString('base64url');
  const call = async (path: string, body: unknown) => {
    const res = await fetch(`${platform.gatewayUrl}/api/auth-service/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    return { status: res.status, json };
  };
  // auth-service keeps accounts in its own memory: each run registers the operator afresh.
  const reg = await call('register', { email, username: 'operator', password });
  if (reg.status !== 200) throw new Error(`operator registration answered ${reg.status}: ${JSON.stringify(reg.json)}`);
  const login = await call('login', { email, password });
  if (login.status !== 200 || typeof login.json.token !== 'string') {
    throw new Error(`operator login answered ${login.status}: ${JSON.stringify(login.json)}`);
  }
  return login.json.token;
}
