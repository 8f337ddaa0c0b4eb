import { afterEach } from 'vitest';
import { createQueue, type Queue } from '../src/index';
import { flowsContract } from './flows.contract';
import { queueContract } from './queue.contract';

let n = 0;
const open: Queue[] = [];
afterEach(async () => {
  for (const q of open.splice(0)) await q.close();
});

const memory = {
  create: () => ({
    newQueue: (options = {}) => {
      const q = createQueue(`mem-${n++}`, { ...options, backend: 'memory' });
      open.push(q);
      return q;
    },
  }),
};
queueContract('memory', memory);
flowsContract('memory', memory);
