import { FakeClock } from '@ballast/testkit';
import { MemoryTransport } from '../src/backends/memory';
import { busContract } from './bus.contract';

// The bus-level scenarios on the in-process transport, its idle times and blocking reads on the fake clock.
busContract('memory', {
  create: () => {
    const clock = new FakeClock();
    const transport = new MemoryTransport({ clock });
    return {
      transport,
      clock,
      advance: (ms) => clock.advance(ms),
      subscribeDefaults: {},
      allLength: async () => transport.entries().length,
    };
  },
  destroy: ({ transport }) => transport.close(),
});
