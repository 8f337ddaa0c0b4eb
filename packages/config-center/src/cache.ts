import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoreState } from './store';

/** What the disk cache holds: the last-known-good state of each remote layer, by source name. */
export interface CacheContent {
  savedAt: number;
  remotes: Record<string, StoreState>;
}

/** How the file is protected: `key` (any string or bytes) encrypts it with AES-256-GCM. */
export interface CacheCrypto {
  key?: string | Uint8Array | undefined;
}

/** The file written when a key is set: no config key or value in clear; `tag` authenticates `data`. */
interface SealedCache {
  alg: 'aes-256-gcm';
  iv: string;
  tag: string;
  data: string;
}

const ALG = 'aes-256-gcm';
const INFO = 'ballast config-center disk cache v1';

/** 32 bytes from the user's key (HKDF-SHA256, fixed info): any passphrase or raw key length works. */
function deriveKey(key: string | Uint8Array): Buffer {
  const ikm = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  return Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), INFO, 32));
}

function seal(plain: string, key: string | Uint8Array): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv(ALG, deriveKey(key), iv);
  const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  const sealed: SealedCache = {
    alg: ALG,
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
  return JSON.stringify(sealed);
}

/** The plain JSON of a sealed file; throws on a wrong key or a tampered file (GCM authentication). */
function open(sealed: SealedCache, key: string | Uint8Array): string {
  const decipher = createDecipheriv(ALG, deriveKey(key), Buffer.from(sealed.iv, 'base64'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
}

const isSealed = (x: unknown): x is SealedCache =>
  typeof x === 'object' && x !== null && (x as SealedCache).alg === ALG && typeof (x as SealedCache).data === 'string';

/**
 * Reads the cache; undefined when there is none or it is unreadable (a broken cache never stops a start). With a
 * key, only a file sealed with that key is read: a clear, tampered or differently-keyed file is no cache; without
 * one, a sealed file is no cache. `onRefused` says why a file that exists was not used.
 */
export async function readCache(
  path: string,
  crypto: CacheCrypto = {},
  onRefused?: (reason: string) => void,
): Promise<CacheContent | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    let parsed: unknown = JSON.parse(text);
    if (crypto.key !== undefined) {
      if (!isSealed(parsed)) {
        onRefused?.('the file is not encrypted but cache.key is set');
        return undefined;
      }
      parsed = JSON.parse(open(parsed, crypto.key));
    } else if (isSealed(parsed)) {
      onRefused?.('the file is encrypted and no cache.key is set');
      return undefined;
    }
    const c = parsed as CacheContent;
    return typeof c === 'object' && c !== null && typeof c.remotes === 'object' ? c : undefined;
  } catch (err) {
    onRefused?.(
      crypto.key !== undefined
        ? 'it cannot be decrypted with cache.key (another key, or the file was altered)'
        : `unreadable: ${(err as Error).message}`,
    );
    return undefined;
  }
}

/**
 * Writes the cache atomically (temp file + rename), so a crash mid-write leaves the previous cache intact; with a
 * key, sealed with AES-256-GCM (a fresh IV per write).
 */
export async function writeCache(path: string, content: CacheContent, crypto: CacheCrypto = {}): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  const json = JSON.stringify(content);
  // 0600: the cache holds config values (possibly secrets); only the service's user reads it.
  await writeFile(tmp, crypto.key === undefined ? json : seal(json, crypto.key), { encoding: 'utf8', mode: 0o600 });
  await rename(tmp, path);
}
