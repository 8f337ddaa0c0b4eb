/**
 * The environment variables as Consul's CLI reads them. Reference: Consul, "Consul Commands (CLI) —
 * Environment Variables", https://developer.hashicorp.com/consul/commands#environment-variables
 * (hashicorp/consul website/content/commands/index.mdx):
 * - CONSUL_HTTP_ADDR "is the HTTP API address … specified as a URI with optional scheme:
 *   CONSUL_HTTP_ADDR=127.0.0.1:8500 … If the https:// scheme is used, CONSUL_HTTP_SSL is implied to be true."
 * - CONSUL_HTTP_TOKEN "is the API access token required when access control lists (ACLs) are enabled".
 * - CONSUL_HTTP_SSL "is a boolean value (default is false) that enables the HTTPS URI scheme".
 * - CONSUL_HTTP_SSL_VERIFY "is a boolean value (default true) to specify SSL certificate verification".
 * - CONSUL_CACERT "Path to a CA file to use for TLS when communicating with Consul."
 * Booleans are Go's strconv.ParseBool (1, t, T, TRUE, true, True / 0, f, F, FALSE, false, False).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidConsulConfigError, resolveConsulEndpoint } from './consul';
import { isBallastError } from './errors';

const resolve = (env: Record<string, string>, o: Parameters<typeof resolveConsulEndpoint>[0] = {}) =>
  resolveConsulEndpoint({ ...o, env });

function errorOf(fn: () => unknown): InvalidConsulConfigError {
  try {
    fn();
  } catch (e) {
    expect(isBallastError(e)).toBe(true);
    expect(e).toBeInstanceOf(InvalidConsulConfigError);
    return e as InvalidConsulConfigError;
  }
  throw new Error('expected an InvalidConsulConfigError');
}

describe('resolveConsulEndpoint: Consul’s environment variables', () => {
  it('defaults to http://127.0.0.1:8500', () => {
    expect(resolve({})).toEqual({
      url: 'http://127.0.0.1:8500',
      secure: false,
      hostname: '127.0.0.1',
      port: 8500,
      source: 'default',
    });
  });

  it('CONSUL_HTTP_ADDR without a scheme: host:port over http, port kept (localhost:8500 is port 8500, not 80)', () => {
    expect(resolve({ CONSUL_HTTP_ADDR: '127.0.0.1:8500' })).toMatchObject({ url: 'http://127.0.0.1:8500', port: 8500 });
    const local = resolve({ CONSUL_HTTP_ADDR: 'localhost:8500' });
    expect(local).toMatchObject({ url: 'http://localhost:8500', hostname: 'localhost', port: 8500, secure: false });
    expect(local.source).toBe('CONSUL_HTTP_ADDR');
    expect(resolve({ CONSUL_HTTP_ADDR: '[::1]:8500' })).toMatchObject({ url: 'http://[::1]:8500', hostname: '::1' });
    expect(resolve({ CONSUL_HTTP_ADDR: 'consul.internal:8500/' }).url).toBe('http://consul.internal:8500');
  });

  it('without a port: the scheme’s default port, as Go’s HTTP client (and so the consul CLI) does', () => {
    expect(resolve({ CONSUL_HTTP_ADDR: 'consul.internal' }).port).toBe(80);
    expect(resolve({ CONSUL_HTTP_ADDR: 'https://consul.internal' }).port).toBe(443);
    expect(resolve({ CONSUL_HTTP_ADDR: 'http://consul.internal:80' }).port).toBe(80);
  });

  it('https:// implies TLS; CONSUL_HTTP_SSL=true turns a plain address to https; false never downgrades', () => {
    expect(resolve({ CONSUL_HTTP_ADDR: 'https://consul.internal:8501' })).toMatchObject({
      url: 'https://consul.internal:8501',
      secure: true,
      tls: { rejectUnauthorized: true },
    });
    for (const yes of ['true', '1', 't', 'TRUE', 'True'])
      expect(resolve({ CONSUL_HTTP_ADDR: 'localhost:8501', CONSUL_HTTP_SSL: yes }).url).toBe('https://localhost:8501');
    // As Consul's API: http:// in CONSUL_HTTP_ADDR does not revert TLS that CONSUL_HTTP_SSL asked for.
    expect(resolve({ CONSUL_HTTP_ADDR: 'http://localhost:8501', CONSUL_HTTP_SSL: 'true' }).secure).toBe(true);
    expect(resolve({ CONSUL_HTTP_ADDR: 'https://localhost:8501', CONSUL_HTTP_SSL: 'false' }).secure).toBe(true);
    expect(resolve({ CONSUL_HTTP_ADDR: 'localhost:8500', CONSUL_HTTP_SSL: '0' }).secure).toBe(false);
    expect(resolve({ CONSUL_HTTP_SSL: 'true' }).url).toBe('https://127.0.0.1:8500');
  });

  it('CONSUL_HTTP_TOKEN is the token; a token in code wins; empty means none', () => {
    expect(resolve({ CONSUL_HTTP_TOKEN: 's3cret' }).token).toBe('s3cret');
    expect(resolve({ CONSUL_HTTP_TOKEN: 's3cret' }, { token: 'code' }).token).toBe('code');
    expect('token' in resolve({ CONSUL_HTTP_TOKEN: '' })).toBe(false);
  });

  it('an address in code wins over the environment and follows the same syntax; its http:// is not overridden', () => {
    const env = { CONSUL_HTTP_ADDR: 'elsewhere:1', CONSUL_HTTP_SSL: 'true' };
    expect(resolve(env, { address: 'localhost:9500', addressOption: 'consul.url' })).toMatchObject({
      url: 'https://localhost:9500',
      source: 'consul.url',
    });
    expect(resolve(env, { address: 'http://localhost:9500' }).url).toBe('http://localhost:9500');
  });

  it('TLS settings: CONSUL_HTTP_SSL_VERIFY=false, CONSUL_CACERT, CONSUL_CAPATH, client cert + key, server name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'consul-tls-'));
    writeFileSync(join(dir, 'ca.pem'), 'CA-PEM');
    writeFileSync(join(dir, 'cert.pem'), 'CERT-PEM');
    writeFileSync(join(dir, 'key.pem'), 'KEY-PEM');
    const tls = resolve({
      CONSUL_HTTP_ADDR: 'https://consul:8501',
      CONSUL_HTTP_SSL_VERIFY: 'false',
      CONSUL_CACERT: join(dir, 'ca.pem'),
      CONSUL_CLIENT_CERT: join(dir, 'cert.pem'),
      CONSUL_CLIENT_KEY: join(dir, 'key.pem'),
      CONSUL_TLS_SERVER_NAME: 'consul.internal',
    }).tls;
    expect(tls).toEqual({
      rejectUnauthorized: false,
      ca: ['CA-PEM'],
      cert: 'CERT-PEM',
      key: 'KEY-PEM',
      servername: 'consul.internal',
    });
    expect(resolve({ CONSUL_HTTP_SSL: 'true', CONSUL_CAPATH: dir }).tls?.ca).toEqual(['CA-PEM', 'CERT-PEM', 'KEY-PEM']);
    // Over http the TLS variables are not read at all (as Consul: no TLS config without https).
    expect(resolve({ CONSUL_CACERT: '/nonexistent' }).tls).toBeUndefined();
  });

  it('a written port is never lost to port 80: surrounding whitespace (a CRLF .env) is trimmed', () => {
    for (const raw of [
      'localhost:8500 ',
      'localhost:8500\n',
      'localhost:8500\r\n',
      ' localhost:8500',
      '\tlocalhost:8500/ ',
    ]) {
      expect(resolve({ CONSUL_HTTP_ADDR: raw }).url, JSON.stringify(raw)).toBe('http://localhost:8500');
    }
    expect(resolve({}, { address: ' https://consul.internal:8501\n' }).url).toBe('https://consul.internal:8501');
  });

  it('CONSUL_HTTP_TOKEN: surrounding whitespace trimmed; a control character inside is a config error, value hidden', () => {
    // Sent as is, 'secret\r' (a CRLF .env) failed every request as "Consul unavailable" (an invalid header).
    expect(resolve({ CONSUL_HTTP_TOKEN: 'secret\r\n' }).token).toBe('secret');
    expect(resolve({ CONSUL_HTTP_TOKEN: '  ' }).token).toBeUndefined();
    const bad = errorOf(() => resolve({ CONSUL_HTTP_TOKEN: 'sec\nret' }));
    expect(bad.variable).toBe('CONSUL_HTTP_TOKEN');
    expect(bad.message).not.toContain('sec');
    expect(errorOf(() => resolve({}, { token: 'a\u0000b' })).variable).toBe('token');
  });

  it('text the URL parser would silently normalise away (and with it the port) is not host:port', () => {
    // Each of these parsed as http://h:80 before: the port was read from text the URL parser had rewritten.
    for (const raw of [
      'h:8500\\',
      'h:8500/.',
      'h:8500/..',
      'h:8500/%2e',
      'h:8500?',
      'h:8500#',
      'h:8500/?',
      'http://h:8500?',
    ]) {
      expect(errorOf(() => resolve({ CONSUL_HTTP_ADDR: raw })).variable, JSON.stringify(raw)).toBe('CONSUL_HTTP_ADDR');
    }
    // Whitespace or a control character inside is not stripped into another host name.
    for (const raw of ['local\thost:8500', 'local\nhost:8500', 'localhost :8500']) {
      expect(errorOf(() => resolve({ CONSUL_HTTP_ADDR: raw })).variable, JSON.stringify(raw)).toBe('CONSUL_HTTP_ADDR');
    }
  });

  it('bad values throw InvalidConsulConfigError naming the variable', () => {
    expect(errorOf(() => resolve({ CONSUL_HTTP_ADDR: 'ftp://consul:21' })).variable).toBe('CONSUL_HTTP_ADDR');
    expect(errorOf(() => resolve({ CONSUL_HTTP_ADDR: 'unix:///var/run/consul.sock' })).message).toMatch(/unix/);
    expect(errorOf(() => resolve({ CONSUL_HTTP_ADDR: 'consul:99999' })).variable).toBe('CONSUL_HTTP_ADDR');
    expect(errorOf(() => resolve({ CONSUL_HTTP_ADDR: 'consul:0' })).message).toMatch(/port 0/);
    expect(errorOf(() => resolve({ CONSUL_HTTP_ADDR: 'app:pw@consul:8500' })).message).not.toContain('pw');
    expect(errorOf(() => resolve({ CONSUL_HTTP_ADDR: 'consul:8500/v1' })).message).toMatch(/path/);
    const withCreds = errorOf(() => resolve({ CONSUL_HTTP_ADDR: 'ftp://user:pw@consul' }));
    expect(withCreds.message).not.toContain('pw');
    expect(errorOf(() => resolve({ CONSUL_HTTP_SSL: 'yes' })).variable).toBe('CONSUL_HTTP_SSL');
    expect(errorOf(() => resolve({ CONSUL_HTTP_SSL: 'true', CONSUL_HTTP_SSL_VERIFY: 'nope' })).variable).toBe(
      'CONSUL_HTTP_SSL_VERIFY',
    );
    expect(errorOf(() => resolve({ CONSUL_HTTP_SSL: 'true', CONSUL_CACERT: '/nonexistent/ca.pem' })).variable).toBe(
      'CONSUL_CACERT',
    );
    expect(errorOf(() => resolve({ CONSUL_HTTP_SSL: 'true', CONSUL_CLIENT_CERT: '/x' })).variable).toBe(
      'CONSUL_CLIENT_KEY',
    );
    expect(errorOf(() => resolve({}, { address: 'ftp://x', addressOption: 'consul.url' })).variable).toBe('consul.url');
    expect(errorOf(() => resolve({ CONSUL_HTTP_ADDR: 'bad host:1' })).code).toBe('INVALID_CONSUL_CONFIG');
  });
});
