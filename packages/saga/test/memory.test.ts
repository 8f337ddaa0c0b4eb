import { FakeClock } from '@ballast/testkit';
import { expect, it } from 'vitest';
import { MemorySagaStore } from '../src/index';
import { sagaContract } from './orchestrator.contract';
import { storeContract } from './store.contract';
import { sagaV2Contract } from './v2.contract';

// The contract on the in-process store: leases judged on the FakeClock, so expiry is instant and exact.
const sagaBackend = {
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
};
sagaContract('memory', sagaBackend);
sagaV2Contract('memory', sagaBackend);

let n = 0;
storeContract('memory', {
  create: () => {
    const clock = new FakeClock();
    return {
      store: new MemorySagaStore({ clock }),
      leaseMs: 1_000,
      expire: () => clock.advance(1_001),
      id: () => `m${n++}`,
    };
  },
});

it('DLQ retention: deadLetterMaxLen keeps the newest entries', async () => {
  const store = new MemorySagaStore({ deadLetterMaxLen: 3 });
  for (let i = 0; i < 5; i++) {
    await store.addDeadLetter({ sagaId: `s${i}`, saga: 's', step: 'x', error: '{}', context: '{}', at: i });
  }
  expect((await store.listDeadLetters()).map((d) => d.sagaId)).toEqual(['s2', 's3', 's4']);
});
