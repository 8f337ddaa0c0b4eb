import { describe, expect, it } from 'vitest';
import { diagnoseBy, RetrievalIndex, recommend, scoreSyndromes } from './knowledge';

describe('the agents’ rule base', () => {
  it('scores syndromes by the signs in the reported symptoms', () => {
    expect(scoreSyndromes(['fatigue', 'poor sleep', 'night sweats']).slice(0, 2)).toEqual([
      { syndrome: 'yin deficiency', score: 2 },
      { syndrome: 'qi deficiency', score: 1 },
    ]);
  });

  it('gives each method its own observation of the best syndrome, with a confidence', () => {
    expect(diagnoseBy('palpation', ['fatigue after meals'])).toEqual({
      method: 'palpation',
      finding: 'thready, weak pulse',
      syndrome: 'qi deficiency',
      confidence: 1,
    });
    expect(diagnoseBy('look', ['headache', 'bitter taste']).syndrome).toBe('blood stasis');
    expect(diagnoseBy('look', ['nothing in particular']).confidence).toBe(0);
  });

  it('recommends the herbs of the best syndrome', () => {
    expect(recommend(['dry mouth', 'insomnia']).herbs).toContain('goji berry');
    expect(recommend([]).syndrome).toBe('balanced');
  });
});

describe('rag-service’s retrieval index', () => {
  it('finds an owner’s documents by word overlap, best first', () => {
    const index = new RetrievalIndex();
    index.add('r1', 'u1', 'blood pressure 120/80, heart rate 72');
    index.add('r2', 'u1', 'sleep 5 hours, heart rate 80 at night');
    index.add('r3', 'u2', 'sleep 8 hours');
    expect(index.search('u1', 'how is my sleep at night').map((h) => h.id)).toEqual(['r2']);
    expect(index.search('u1', 'heart rate and pressure').map((h) => [h.id, h.score])).toEqual([
      ['r1', 3],
      ['r2', 2],
    ]);
    expect(index.search('u2', 'heart')).toEqual([]);
    expect(index.count('u1')).toBe(2);
    index.add('r4', 'u3', 'metrics heartRate 72 sleep_hours 7');
    expect(index.search('u3', 'heart rate').map((h) => h.score)).toEqual([2]);
  });
});
