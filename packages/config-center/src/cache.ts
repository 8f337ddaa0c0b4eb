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
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(content), 'utf8');
  await rename(tmp, path);
}
