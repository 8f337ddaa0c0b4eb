import { isCluster, type RedisClient } from './redis';

/**
 * Every key matching `match` (a Redis glob), by `SCAN` — on a Cluster, on every master in turn. For operator
 * tools (the CLI, the dashboard) that list what the packages keep: never `KEYS`, which blocks the server.
 * A key may be yielded twice (SCAN's own guarantee) and keys written meanwhile may or may not be: callers
 * deduplicate (`Set`) and treat the result as a snapshot.
 */
export async function* scanKeys(
  client: RedisClient,
  match: string,
  options: { count?: number; type?: 'string' | 'list' | 'set' | 'zset' | 'hash' | 'stream' } = {},
): AsyncGenerator<string> {
  const nodes = isCluster(client) ? client.nodes('master') : [client];
  const extra: (string | number)[] = ['COUNT', options.count ?? 500];
  if (options.type) extra.push('TYPE', options.type);
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = (await node.call('SCAN', cursor, 'MATCH', match, ...extra)) as [string, string[]];
      cursor = next;
      for (const key of keys) yield key;
    } while (cursor !== '0');
  }
}

/** A glob pattern matching `text` literally (`*`, `?`, `[`, `]` and `\` escaped). */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
