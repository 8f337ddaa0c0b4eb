import { createLogger, isInvalidOptionsError } from '@ballast/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MemoryTransport } from '../src/backends/memory';
import { createEventBus } from '../src/bus';
import { isPayloadTooLargeError } from '../src/errors';

const events = { 'blob.stored': z.object({ blob: z.string() }) };
const logger = createLogger({ level: 'silent' });

/** A memory transport that counts what reaches it. */
function counted() {
  const transport = new MemoryTransport();
  const written = { calls: 0 };
  const publish = transport.publish.bind(transport);
  const publishMany = transport.publishMany.bind(transport);
  transport.publish = (...a) => {
    written.calls++;
    return publish(...a);
  };
  transport.publishMany = (...a) => {
    written.calls++;
    return publishMany(...a);
  };
  return { transport, written };
}

describe('maxPayloadBytes', () => {
  it('refuses an event whose encoded data is over the limit, naming type, size and limit', async () => {
    const { transport, written } = counted();
    const bus = createEventBus({ transport, source: 's', events, logger, maxPayloadBytes: 1_000 });
    const error = await bus.publish('blob.stored', { blob: 'x'.repeat(1_000) }).catch((e: unknown) => e);
    expect(isPayloadTooLargeError(error)).toBe(true);
    expect(error).toMatchObject({ eventType: 'blob.stored', limit: 1_000, bytes: 1_000 + '{"blob":""}'.length });
    expect(written.calls).toBe(0);
    // Just under the limit goes through.
    await bus.publish('blob.stored', { blob: 'x'.repeat(1_000 - '{"blob":""}'.length) });
    expect(written.calls).toBe(1);
    await bus.close();
  });

  it('counts UTF-8 bytes, not characters', async () => {
    const { transport } = counted();
    const bus = createEventBus({ transport, source: 's', events, logger, maxPayloadBytes: 1_000 });
    // 400 characters, 1200 bytes.
    await expect(bus.publish('blob.stored', { blob: '€'.repeat(400) })).rejects.toSatisfy(isPayloadTooLargeError);
    await bus.close();
  });

  it('one oversized item rejects the whole publishMany before anything is written', async () => {
    const { transport, written } = counted();
    const bus = createEventBus({ transport, source: 's', events, logger, maxPayloadBytes: 100 });
    await expect(
      bus.publishMany('blob.stored', [{ data: { blob: 'a' } }, { data: { blob: 'b'.repeat(200) } }]),
    ).rejects.toSatisfy(isPayloadTooLargeError);
    expect(written.calls).toBe(0);
    await bus.close();
  });

  it('defaults to 1 MiB; 0 means no limit; a negative limit is a typed options error', async () => {
    const { transport } = counted();
    const bus = createEventBus({ transport, source: 's', events, logger });
    await expect(bus.publish('blob.stored', { blob: 'x'.repeat(1_048_577) })).rejects.toSatisfy(isPayloadTooLargeError);
    await bus.close();
    const unlimited = createEventBus({
      transport: new MemoryTransport(),
      source: 's',
      events,
      logger,
      maxPayloadBytes: 0,
    });
    await unlimited.publish('blob.stored', { blob: 'x'.repeat(2_000_000) });
    await unlimited.close();
    expect(() => createEventBus({ transport, source: 's', events, logger, maxPayloadBytes: -1 })).toThrow(
      expect.objectContaining({ message: expect.stringContaining('maxPayloadBytes') }),
    );
    let caught: unknown;
    try {
      createEventBus({ transport, source: 's', events, logger, maxPayloadBytes: -1 });
    } catch (e) {
      caught = e;
    }
    expect(isInvalidOptionsError(caught)).toBe(true);
  });
});
