import { FakeClock } from '@ballast/testkit';
import { MemorySagaStore } from '../src/index';
import { sagaContract } from './orchestrator.contract';

// The contract on the in-process store: leases judged on the FakeClock, so expiry is instant and exact.
sagaContract('memory', {
  create: () => {
    const clock = new FakeClock();
    const leaseMs = 30_000;
    return {
      store: new MemorySagaStore({ clock }),
      clock,
      leaseMs,
      expireLeases: () => clock.advance(leaseMs + 1),
    };
  },
});
