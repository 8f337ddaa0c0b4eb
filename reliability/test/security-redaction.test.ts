/**
 * Logs never carry secrets: core's logger, given secret-named fields (password, token, apiKey, authorization,
 * cookie…) at the depths its redaction covers — top level, one and two objects down, request/response
 * headers, child-logger bindings — never prints their values, whatever they are. Redis URLs: errors carry
 * them redacted, and so is a raw URL logged as a plain field.
 */
import { Writable } from 'node:stream';
import { createLogger, createRedis, redactUrl } from '@ballast/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

function capture() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { text: () => chunks.join(''), stream };
}

const SECRET_KEYS = [
  'password',
  'passwd',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'apiKey',
  'api_key',
  'authorization',
  'Authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
];
/** A secret value distinctive enough that finding it in the output is never a coincidence. */
const secretValue = fc
  .string({ minLength: 4, maxLength: 30 })
  .map((s) => `S3CR3T-${s}-${Math.random().toString(36).slice(2)}`);
const fieldName = fc
  .stringMatching(/^[a-z][a-zA-Z0-9]{0,10}$/)
  .filter((k) => !SECRET_KEYS.includes(k) && k !== 'headers' && k !== 'req' && k !== 'res');

/** Where a secret sits: `path` of plain object keys (0–2 of them) then the secret-named key. */
const placement = fc.record({
  path: fc.array(fieldName, { maxLength: 2 }),
  key: fc.constantFrom(...SECRET_KEYS),
  value: secretValue,
});

function nest(path: readonly string[], key: string, value: string): Record<string, unknown> {
  let o: Record<string, unknown> = { [key]: value };
  for (const p of [...path].reverse()) o = { [p]: o };
  return o;
}

describe('log redaction', () => {
  it('secret-named fields up to two objects deep never reach the output (property)', () => {
    fc.assert(
      fc.property(fc.array(placement, { minLength: 1, maxLength: 4 }), fc.boolean(), (placements, viaChild) => {
        const out = capture();
        const root = createLogger({ destination: out.stream, level: 'info' });
        const [first, ...rest] = placements;
        // Secrets in the child's bindings too, when asked.
        const log = viaChild ? root.child(nest(first!.path, first!.key, first!.value)) : root;
        const fields = Object.assign({}, ...(viaChild ? rest : placements).map((p) => nest(p.path, p.key, p.value)));
        log.info({ ...fields, plain: 'visible' }, 'line');
        const text = out.text();
        expect(text).toContain('visible');
        for (const p of placements) expect(text).not.toContain(p.value);
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('authorization, cookies and API keys in req/res headers are redacted, other headers kept', () => {
    fc.assert(
      fc.property(
        secretValue,
        fc.constantFrom('authorization', 'Authorization', 'cookie', 'set-cookie', 'x-api-key'),
        (value, header) => {
          const out = capture();
          createLogger({ destination: out.stream }).info(
            { req: { headers: { [header]: value, accept: 'json' } }, res: { headers: { [header]: value } } },
            'http',
          );
          expect(out.text()).not.toContain(value);
          expect(out.text()).toContain('"accept":"json"');
          return true;
        },
      ),
      { numRuns: 100 },
    );
  });

  it('a Redis URL password never shows in Ballast errors, nor once passed through redactUrl', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9]{6,20}$/), (pw) => {
        const password = `pw${pw}`;
        const url = `redis://app:${password}@127.0.0.1:6379/not-a-db`;
        let error: unknown;
        try {
          createRedis(url);
        } catch (e) {
          error = e;
        }
        const out = capture();
        createLogger({ destination: out.stream }).error({ err: error, url: redactUrl(url) }, 'connect failed');
        expect(out.text()).toContain('INVALID_REDIS_URL');
        expect(out.text()).not.toContain(password);
        expect(out.text()).toContain('app:***@');
        return true;
      }),
      { numRuns: 100 },
    );
  });
});

describe('content-based redaction (once gaps: pino alone redacts by key path)', () => {
  it('a raw Redis URL logged as a plain field has its password hidden', () => {
    const out = capture();
    createLogger({ destination: out.stream }).info({ url: 'redis://app:hunter2@127.0.0.1:6379' }, 'connecting');
    expect(out.text()).not.toContain('hunter2');
    expect(out.text()).toContain('redis://app:***@127.0.0.1:6379');
  });

  it('a secret three objects deep is redacted', () => {
    const out = capture();
    createLogger({ destination: out.stream }).info({ a: { b: { c: { password: 'deep-pw' } } } }, 'deep');
    expect(out.text()).not.toContain('deep-pw');
  });
});
