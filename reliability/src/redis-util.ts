import type { Redis } from '@ballast/core';

/** Deletes every key starting with `prefix` (SCAN + UNLINK, bounded by the key count). */
export async function deleteByPrefix(redis: Redis, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor = '0';
  for (let i = 0; i < 100_000; i++) {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
    if (cursor === '0') break;
  }
  return deleted;
}
