/** Shared by the `Transport` contract's case files. Nothing here waits on real time. */
import type { StreamEntry, StreamId, Transport } from '../src/transport';

export interface TransportUnderTest {
  transport: Transport;
  /** An event type no other test uses (so tests never collide on a shared Redis). */
  type: string;
  /** Length of the transport's `events:all`, where the backend can tell (checks that replay leaves it alone). */
  allLength?: () => Promise<number>;
}

export const LONG_IDLE = 60_000;

export const fieldsOf = (i: number) => ({ n: String(i), payload: `{"i":${i}}` });

export async function publishN(t: Transport, type: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) ids.push(await t.publish(type, fieldsOf(i)));
  return ids;
}

export const idsOf = (entries: readonly StreamEntry[]) => entries.map((e) => e.id);

/** `claimStale` from the start of the pending list, entries only. */
export async function claim(
  t: Transport,
  type: string,
  group: string,
  consumer: string,
  idleTimeoutMs: number,
  count: number,
  cursor?: StreamId,
): Promise<StreamEntry[]> {
  return (await t.claimStale(type, group, consumer, idleTimeoutMs, count, cursor)).entries;
}
