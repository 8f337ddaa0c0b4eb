/**
 * Bad input on the wire: arbitrary stream entries written straight into an event type's stream with XADD
 * (valid envelopes, envelopes with fields missing or mangled, and plain junk field maps). Every entry must
 * end either in the handler (only when it decodes and its data passes the schema) or in the DLQ — never a
 * crash of the consumer, never an entry left behind.
 */
import { createLogger } from '@ballast/core';
import { createEventBus, encodeEnvelope, RedisTransport, type Subscription } from '@ballast/event-bus';
import { useRedisFixture } from '@ballast/testkit/vitest';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { z } from 'zod';

const fx = useRedisFixture({ name: 'reliability-fuzz-decoding' });
const TYPE = 'fuzz.decoded';
const events = { [TYPE]: z.object({ n: z.number().int(), tag: z.string().max(20) }) };

let transport: RedisTransport;
let bus: ReturnType<typeof createEventBus<typeof events>>;
let sub: Subscription;
const handled = new Map<string, unknown>();
const errors: unknown[] = [];

beforeAll(async () => {
  transport = new RedisTransport({ redis: fx.current.redis, prefix: `${fx.current.prefix}:` });
  bus = createEventBus({ transport, source: 'fuzz', events, logger: createLogger({ level: 'silent' }) });
  sub = await bus.subscribe(
    TYPE,
    (event, ctx) => {
      handled.set(ctx.entryId, event.data);
    },
    { blockMs: 50, claimIntervalMs: 50, maxDeliveries: 2, concurrency: 50, batchSize: 50, maintenanceIntervalMs: 0 },
  );
  sub.onError((e) => errors.push(e.error));
});

afterAll(async () => {
  await bus.close();
  await transport.close();
});

const text = fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 30 }), fc.json());
const validEnvelope = fc.record({ n: fc.integer(), tag: fc.string({ maxLength: 20 }) }).map((data) =>
  encodeEnvelope({
    event_id: crypto.randomUUID(),
    event_type: TYPE,
    source_service: 'fuzz',
    timestamp: new Date().toISOString(),
    data,
    metadata: {},
  }),
);
/** A valid envelope with some fields dropped or replaced by junk text. */
const mangled = fc
  .tuple(
    validEnvelope,
    fc.dictionary(
      fc.constantFrom('event_id', 'event_type', 'source_service', 'timestamp', 'data', 'metadata', 'traceparent'),
      fc.option(text),
    ),
  )
  .map(([env, changes]) => {
    const out: Record<string, string> = { ...env };
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) delete out[k];
      else out[k] = v;
    }
    return out;
  });
const junkFields = fc.dictionary(text, text, { minKeys: 1, maxKeys: 8 });
const entry = fc.oneof(validEnvelope, mangled, junkFields).filter((f) => Object.keys(f).length > 0);

it('every injected entry is handled (valid) or dead-lettered (invalid); nothing crashes, nothing is left', async () => {
  const stream = transport.keys.stream(TYPE);
  await fc.assert(
    fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 25 }), async (entries) => {
      const ids: string[] = [];
      for (const fields of entries)
        ids.push((await fx.current.redis.xadd(stream, '*', ...Object.entries(fields).flat())) as string);
      const dead = new Set<string>();
      const settled = async () => {
        for (const d of await bus.dlq.list(TYPE, { count: 10_000 })) dead.add(d.originalId);
        return ids.every((id) => handled.has(id) || dead.has(id));
      };
      const deadline = Date.now() + 10_000;
      while (!(await settled()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      for (const [i, id] of ids.entries()) {
        const inHandler = handled.has(id);
        expect(
          inHandler !== dead.has(id),
          `entry ${i} ${JSON.stringify(entries[i])}: handled=${inHandler} dlq=${dead.has(id)}`,
        ).toBe(true);
        // Only data that passes the schema reaches the handler.
        if (inHandler) expect(events[TYPE].safeParse(handled.get(id)).success).toBe(true);
      }
      return true;
    }),
    { numRuns: Number(process.env.FUZZ_RUNS ?? 40) },
  );
  expect(errors).toEqual([]);
  await expect.poll(async () => (await bus.groups(TYPE))[0]?.pending).toBe(0);
  // Some of each outcome happened, so the property exercised both paths.
  expect(handled.size).toBeGreaterThan(0);
  expect((await bus.dlq.list(TYPE, { count: 10_000 })).length).toBeGreaterThan(0);
}, 120_000);
