/**
 * Compile-time checks of the typed API: `publish` rejects wrong data and unknown types, handlers get the
 * schema's output type. The `@ts-expect-error` lines are the assertions: were `publish` to accept the wrong
 * data, each would be an unused directive, a type error. The package's `typecheck` sees them, and so does the
 * test below, which runs the TypeScript compiler on this file.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readTsconfig } from '@ballast/testkit';
import ts from 'typescript';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { z } from 'zod';
import { createEventBus } from '../src/bus';
import type { EventEnvelope } from '../src/envelope';

// One type-check of a program with zod's types: seconds of CPU on a loaded 2-core machine.
vi.setConfig({ testTimeout: 90_000 });

const events = {
  'order.paid': z.object({ orderId: z.string(), cents: z.number().int() }),
  'order.shipped': z.object({ orderId: z.string(), carrier: z.enum(['ups', 'dhl']).default('ups') }),
};

/** Never called: only compiled. */
export async function typeCases(): Promise<void> {
  const bus = createEventBus({ source: 's', events });
  await bus.publish('order.paid', { orderId: 'o1', cents: 100 });
  await bus.publish('order.shipped', { orderId: 'o1' }); // a defaulted field may be left out
  // @ts-expect-error cents must be a number
  await bus.publish('order.paid', { orderId: 'o1', cents: '100' });
  // @ts-expect-error orderId is required
  await bus.publish('order.paid', { cents: 100 });
  // @ts-expect-error no such event type
  await bus.publish('order.lost', { orderId: 'o1' });
  // @ts-expect-error the data of another type
  await bus.publish('order.shipped', { orderId: 'o1', carrier: 'pigeon' });
  // @ts-expect-error publishMany items are checked too
  await bus.publishMany('order.paid', [{ data: { orderId: 'o1', cents: 1.5 as unknown as string } }]);
  await bus.subscribe('order.shipped', (event) => {
    expectTypeOf(event).toEqualTypeOf<EventEnvelope<{ orderId: string; carrier: 'ups' | 'dhl' }, 'order.shipped'>>();
    return false; // seed 000's failure signal is allowed
  });
}

describe('typed publish (compile time)', () => {
  it('this file type-checks: every @ts-expect-error above is an error the compiler reports', () => {
    const here = fileURLToPath(import.meta.url);
    const configPath = join(dirname(here), '..', 'tsconfig.json');
    const parsed = readTsconfig(ts, configPath);
    const lua = join(dirname(here), '..', '..', '..', 'types', 'lua.d.ts');
    const program = ts.createProgram([here, lua], { ...parsed.options, noEmit: true });
    const diagnostics = ts
      .getPreEmitDiagnostics(program, program.getSourceFile(here))
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
  });
});
