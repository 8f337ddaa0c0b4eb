import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoreState } from './store';

/** What the disk cache holds: the last-known-good state of each remote layer, by source name. */
export interface CacheContent {
  savedAt: number;
  remotes: Record<string, StoreState>;
}

/** Reads the cache; undefined when there is none or it is unreadable (a broken cache never stops a start). */
export async function readCache(path: string): Promise<CacheContent | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as CacheContent;
    return typeof parsed === 'object' && parsed !== null && typeof parsed.remotes === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the cache atomically (temp file + rename), so a crash mid-write leaves the previous cache intact. */
export async function writeCache(path: string, content: CacheContent): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  // 0600: the cache holds config values (possibly secrets); only the service's user reads it.
  await writeFile(tmp, JSON.stringify(content), { encoding: 'utf8', mode: 0o600 });
  await rename(tmp, path);
}
