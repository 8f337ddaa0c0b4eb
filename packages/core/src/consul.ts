/**
 * The Consul HTTP endpoint every Ballast Consul client (discovery, config-center) connects to, read from the
 * environment exactly as Consul's own CLI and Go API read it (https://developer.hashicorp.com/consul/commands#environment-variables):
 *
 * - `CONSUL_HTTP_ADDR`: `host:port` with an optional `http://` / `https://` scheme (`127.0.0.1:8500`,
 *   `localhost:8500`, `https://consul.internal:8501`). `https://` implies TLS. Without a port, the scheme's
 *   default port (80 / 443), as Go's HTTP client does. `unix://` sockets are not supported here. Whitespace
 *   around the value is ignored; a path, query, fragment or whitespace inside it is an error.
 * - `CONSUL_HTTP_TOKEN`: the ACL token, sent as `X-Consul-Token` (whitespace around it ignored).
 * - `CONSUL_HTTP_SSL`: a Go `strconv.ParseBool` boolean; true → https (false never downgrades `https://`).
 * - `CONSUL_HTTP_SSL_VERIFY`: boolean, default true; false → the server certificate is not checked.
 * - `CONSUL_CACERT` / `CONSUL_CAPATH`: a CA file / a directory of CA files to verify the server with.
 * - `CONSUL_CLIENT_CERT` + `CONSUL_CLIENT_KEY`: a client certificate (both or neither).
 * - `CONSUL_TLS_SERVER_NAME`: the SNI host name.
 *
 * Options given in code win over the environment: an address with a scheme decides http/https itself.
 * A bad value throws `InvalidConsulConfigError` naming the variable (or option) that holds it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BallastError } from './errors';

export const DEFAULT_CONSUL_ADDR = 'http://127.0.0.1:8500';

/** A Consul setting (environment variable or option) has a value that cannot be used. */
export class InvalidConsulConfigError extends BallastError {
  static readonly code = 'INVALID_CONSUL_CONFIG';
  /** The environment variable or option holding the bad value, e.g. `CONSUL_HTTP_ADDR`, `consul.url`. */
  readonly variable: string;
  constructor(variable: string, message: string, options: { cause?: unknown } = {}) {
    super(new.target.code, `${variable}: ${message}`, options);
    this.variable = variable;
  }
}

/** TLS settings for node's `https.Agent` / `https.request`. */
export interface ConsulTlsOptions {
  /** False when `CONSUL_HTTP_SSL_VERIFY` is false. */
  rejectUnauthorized: boolean;
  /** PEM CA certificates (`CONSUL_CACERT`, `CONSUL_CAPATH`); none = Node's default roots. */
  ca?: string[];
  cert?: string;
  key?: string;
  servername?: string;
}

export interface ConsulEndpoint {
  /** `scheme://host:port`, no trailing slash, e.g. `http://localhost:8500`. */
  readonly url: string;
  readonly secure: boolean;
  /** Host name or IP (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
  /** The ACL token (option, else `CONSUL_HTTP_TOKEN`), for the `X-Consul-Token` header. */
  readonly token?: string;
  /** Present when `secure`: what to give node's https agent. */
  readonly tls?: ConsulTlsOptions;
  /** Where the address came from: the option's name, `CONSUL_HTTP_ADDR`, or `default`. */
  readonly source: string;
}

export interface ResolveConsulEndpointOptions {
  /** An address given in code (same syntax as `CONSUL_HTTP_ADDR`); wins over the environment. */
  address?: string;
  /** The option's name in errors, e.g. `consul.url`. Default `url`. */
  addressOption?: string;
  /** A token given in code; wins over `CONSUL_HTTP_TOKEN`. */
  token?: string;
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/** Go's `strconv.ParseBool`, which Consul uses for its boolean variables; unset or empty → undefined. */
function parseBool(variable: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new InvalidConsulConfigError(variable, `"${value}" is not a boolean (true/false, 1/0, t/f)`);
}

/** Echo an address in an error unless it could carry credentials. */
const shown = (value: string) => (value.includes('@') ? '(value hidden: it contains "@")' : `"${value}"`);

function parseAddress(variable: string, given: string): { scheme?: 'http' | 'https'; hostname: string; port?: number } {
  // Whitespace around the value is the line it came from (a CRLF .env, a quoted shell value), not the address.
  const raw = given.trim();
  const at = raw.indexOf('://');
  let scheme: 'http' | 'https' | undefined;
  let rest = raw;
  if (at >= 0) {
    const s = raw.slice(0, at).toLowerCase();
    if (s === 'unix') throw new InvalidConsulConfigError(variable, 'unix:// sockets are not supported; use host:port');
    if (s !== 'http' && s !== 'https') {
      throw new InvalidConsulConfigError(variable, `unknown scheme "${s}" in ${shown(raw)}: use http:// or https://`);
    }
    scheme = s;
    rest = raw.slice(at + 3);
  }
  // Only host:port and one optional trailing "/". Anything the URL parser would rewrite — a backslash, a dot
  // segment, an empty query or fragment, whitespace or a control character, which it drops — must not reach it:
  // the port is read from the text below, and a rewritten text reads as no port at all (port 80).
  if (/[\s\p{Cc}\\?#]/u.test(rest)) throw new InvalidConsulConfigError(variable, `${shown(raw)} is not host:port`);
  const slash = rest.indexOf('/');
  if (slash >= 0 && slash !== rest.length - 1) {
    throw new InvalidConsulConfigError(variable, `${shown(raw)} has a path; give host:port only`);
  }
  let url: URL;
  try {
    url = new URL(`http://${rest}`);
  } catch (cause) {
    throw new InvalidConsulConfigError(variable, `${shown(raw)} is not host:port`, { cause });
  }
  if (url.hostname === '' || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new InvalidConsulConfigError(variable, `${shown(raw)} is not host:port`);
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    throw new InvalidConsulConfigError(variable, `${shown(raw)} has a path; give host:port only`);
  }
  // URL drops a port equal to its scheme's default (http://h:80 → ''): read it from the text instead.
  const written = /:(\d+)\/?$/.exec(rest)?.[1];
  const port = written === undefined ? undefined : Number(written);
  if (port === 0) throw new InvalidConsulConfigError(variable, `${shown(raw)}: port 0 is not a port`);
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { ...(scheme ? { scheme } : {}), hostname, ...(port === undefined ? {} : { port }) };
}

function readPem(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new InvalidConsulConfigError(variable, `cannot read "${path}": ${(cause as Error).message}`, { cause });
  }
}

function readCaDir(variable: string, dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (cause) {
    throw new InvalidConsulConfigError(variable, `cannot read directory "${dir}": ${(cause as Error).message}`, {
      cause,
    });
  }
  return names
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isFile())
    .map((p) => readPem(variable, p));
}

function tlsFrom(env: Readonly<Record<string, string | undefined>>): ConsulTlsOptions {
  const verify = parseBool('CONSUL_HTTP_SSL_VERIFY', env.CONSUL_HTTP_SSL_VERIFY) ?? true;
  const ca = [
    ...(env.CONSUL_CACERT ? [readPem('CONSUL_CACERT', env.CONSUL_CACERT)] : []),
    ...(env.CONSUL_CAPATH ? readCaDir('CONSUL_CAPATH', env.CONSUL_CAPATH) : []),
  ];
  const certPath = env.CONSUL_CLIENT_CERT || undefined;
  const keyPath = env.CONSUL_CLIENT_KEY || undefined;
  if ((certPath === undefined) !== (keyPath === undefined)) {
    const missing = certPath === undefined ? 'CONSUL_CLIENT_CERT' : 'CONSUL_CLIENT_KEY';
    throw new InvalidConsulConfigError(missing, 'CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY must be set together');
  }
  return {
    rejectUnauthorized: verify,
    ...(ca.length > 0 ? { ca } : {}),
    ...(certPath && keyPath
      ? { cert: readPem('CONSUL_CLIENT_CERT', certPath), key: readPem('CONSUL_CLIENT_KEY', keyPath) }
      : {}),
    ...(env.CONSUL_TLS_SERVER_NAME ? { servername: env.CONSUL_TLS_SERVER_NAME } : {}),
  };
}

/** The Consul endpoint from options in code, else the environment, else `http://127.0.0.1:8500`. */
export function resolveConsulEndpoint(options: ResolveConsulEndpointOptions = {}): ConsulEndpoint {
  const env = options.env ?? process.env;
  const fromCode = options.address !== undefined && options.address !== '';
  const envAddr = env.CONSUL_HTTP_ADDR || undefined;
  const source = fromCode ? (options.addressOption ?? 'url') : envAddr ? 'CONSUL_HTTP_ADDR' : 'default';
  const raw = fromCode ? options.address! : (envAddr ?? DEFAULT_CONSUL_ADDR);
  const addr = parseAddress(source, raw);
  const ssl = parseBool('CONSUL_HTTP_SSL', env.CONSUL_HTTP_SSL);
  // As Consul: https:// or CONSUL_HTTP_SSL=true → https. A scheme written in code is not overridden by the env.
  const secure = addr.scheme === 'https' || (ssl === true && !(fromCode && addr.scheme === 'http'));
  const port = addr.port ?? (secure ? 443 : 80);
  const host = addr.hostname.includes(':') ? `[${addr.hostname}]` : addr.hostname;
  // Trimmed as the address is; a control character left inside would fail every request as an invalid header.
  const tokenFrom = options.token?.trim() ? 'token' : 'CONSUL_HTTP_TOKEN';
  const token = options.token?.trim() || env.CONSUL_HTTP_TOKEN?.trim() || undefined;
  if (token && /\p{Cc}/u.test(token)) {
    throw new InvalidConsulConfigError(tokenFrom, 'has a control character inside (the value is not shown)');
  }
  return {
    url: `${secure ? 'https' : 'http'}://${host}:${port}`,
    secure,
    hostname: addr.hostname,
    port,
    ...(token ? { token } : {}),
    ...(secure ? { tls: tlsFrom(env) } : {}),
    source,
  };
}
