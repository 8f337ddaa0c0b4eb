import { MemoryConfigStore } from '../src/backends/memory';
import { memoryStore } from '../src/sources';
import { remoteContract } from './store.contract';

remoteContract('memory', {
  create: () => {
    const store = new MemoryConfigStore({ maxVersions: 5 });
    return { open: () => memoryStore({ store }), maxVersions: 5 };
  },
});
