import { describe, expect, it } from 'vitest';
import { ChannelAcks } from './channel-acks';

/** A channel that records the frames it is asked to send. */
function recorder() {
  const frames: string[] = [];
  let closed = false;
  const ch = {
    ack(m: { fields: { deliveryTag: number } }, allUpTo?: boolean) {
      if (closed) throw new Error('Channel closed');
      frames.push(`ack ${m.fields.deliveryTag}${allUpTo ? ' multiple' : ''}`);
    },
    nack(m: { fields: { deliveryTag: number } }, allUpTo?: boolean, requeue?: boolean) {
      if (closed) throw new Error('Channel closed');
      frames.push(`nack ${m.fields.deliveryTag}${allUpTo ? ' multiple' : ''}${requeue ? ' requeue' : ''}`);
    },
  };
  const close = () => {
    closed = true;
  };
  return { ch, frames, close };
}

const tick = () => new Promise<void>((r) => process.nextTick(r));

describe('ChannelAcks', () => {
  it('acks of one tick that run from the oldest delivery go as one multiple ack, at the end of the tick', async () => {
    const { ch, frames } = recorder();
    const acks = new ChannelAcks(ch);
    for (let t = 1; t <= 5; t++) acks.delivered(t);
    acks.ack(2);
    acks.ack(1);
    acks.ack(3);
    expect(frames).toEqual([]);
    await tick();
    expect(frames).toEqual(['ack 3 multiple']);
    acks.ack(4);
    await tick();
    expect(frames).toEqual(['ack 3 multiple', 'ack 4']);
  });

  it('never settles a delivery still held: acks behind an unsettled one go one by one', async () => {
    const { ch, frames } = recorder();
    const acks = new ChannelAcks(ch);
    for (let t = 1; t <= 6; t++) acks.delivered(t);
    acks.ack(2);
    acks.ack(3);
    acks.ack(5);
    await tick();
    expect(frames).toEqual(['ack 2', 'ack 3', 'ack 5']);
    // Once 1 is acked, the run 1..3 is settled (2 and 3 already were): 1 goes alone; 4 and 6 are still held.
    acks.ack(1);
    await tick();
    expect(frames.slice(3)).toEqual(['ack 1']);
    acks.ack(4);
    acks.ack(6);
    await tick();
    expect(frames.slice(4)).toEqual(['ack 6 multiple']);
  });

  it('nacks go at once and a later multiple ack runs past them', async () => {
    const { ch, frames } = recorder();
    const acks = new ChannelAcks(ch);
    for (let t = 1; t <= 4; t++) acks.delivered(t);
    acks.ack(1);
    acks.nack(2, false);
    expect(frames).toEqual(['nack 2']);
    acks.nack(3, true);
    acks.ack(4);
    await tick();
    expect(frames).toEqual(['nack 2', 'nack 3 requeue', 'ack 4 multiple']);
  });

  it('while held (a basic.get under way) every ack goes alone', async () => {
    const { ch, frames } = recorder();
    const acks = new ChannelAcks(ch);
    for (let t = 1; t <= 3; t++) acks.delivered(t);
    acks.hold();
    acks.ack(1);
    acks.ack(2);
    await tick();
    expect(frames).toEqual(['ack 1', 'ack 2']);
    acks.release();
    acks.delivered(4);
    acks.ack(3);
    acks.ack(4);
    await tick();
    expect(frames.slice(2)).toEqual(['ack 4 multiple']);
  });

  it('a tag acked twice is sent once (a second ack of a tag closes the channel on the broker)', async () => {
    const { ch, frames } = recorder();
    const acks = new ChannelAcks(ch);
    acks.delivered(1);
    acks.delivered(2);
    acks.ack(2);
    acks.ack(2);
    await tick();
    acks.ack(2);
    await tick();
    expect(frames).toEqual(['ack 2']);
  });

  it('a channel closed under the flush throws nothing (the broker requeues what it held)', async () => {
    const { ch, frames, close } = recorder();
    const acks = new ChannelAcks(ch);
    acks.delivered(1);
    acks.ack(1);
    close();
    await tick();
    expect(frames).toEqual([]);
    acks.delivered(2);
    expect(() => acks.nack(2, true)).toThrow('Channel closed');
  });

  it('a long stream of in-order acks is one frame per tick', async () => {
    const { ch, frames } = recorder();
    const acks = new ChannelAcks(ch);
    let tag = 0;
    for (let round = 0; round < 300; round++) {
      for (let k = 0; k < 50; k++) acks.delivered(++tag);
      for (let k = 49; k >= 0; k--) acks.ack(tag - k);
      await tick();
    }
    expect(frames).toHaveLength(300);
    expect(frames.at(-1)).toBe(`ack ${tag} multiple`);
  });

  it('a delivery never settled holds nothing else back: what is kept stays bounded, batching resumes once it goes', async () => {
    const { ch, frames } = recorder();
    const acks = new ChannelAcks(ch);
    acks.delivered(1); // a long job: unsettled throughout
    let tag = 1;
    for (let round = 0; round < 2_000; round++) {
      for (let k = 0; k < 50; k++) acks.delivered(++tag);
      for (let k = 49; k >= 0; k--) acks.ack(tag - k);
      await tick();
    }
    expect(frames).toHaveLength(100_000); // one each while tag 1 is held (a multiple ack would settle it)
    expect(frames.some((f) => f.includes('multiple'))).toBe(false);
    expect(acks.tracked).toBeLessThan(5_000);
    acks.ack(1);
    await tick();
    expect(frames.at(-1)).toBe('ack 1');
    for (let k = 0; k < 50; k++) acks.delivered(++tag);
    for (let k = 49; k >= 0; k--) acks.ack(tag - k);
    await tick();
    expect(frames.at(-1)).toBe(`ack ${tag} multiple`);
    expect(acks.tracked).toBeLessThan(2_100);
  });
});
