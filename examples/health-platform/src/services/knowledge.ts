/**
 * The small but real work behind the simulated agents: a deterministic rule base (syndromes of TCM with the
 * signs each diagnostic method can observe) scored against the reported symptoms, and a tiny in-memory
 * retrieval index (term overlap, best first) for rag-service. Same input, same answer — so tests can check it.
 */

export type Method = 'look' | 'listen' | 'inquiry' | 'palpation';

interface Syndrome {
  /** Words of reported symptoms that point to this syndrome. */
  signs: string[];
  /** What each diagnostic method would observe in a patient with this syndrome. */
  observed: Record<Method, string>;
  herbs: string[];
  diet: string;
}

export const SYNDROMES: Record<string, Syndrome> = {
  'qi deficiency': {
    signs: ['fatigue', 'tired', 'weak', 'breath', 'sweating', 'appetite', 'meals'],
    observed: {
      look: 'pale tongue, thin white coating',
      listen: 'weak voice, shallow breath',
      inquiry: 'fatigue that worsens after exertion and meals',
      palpation: 'thready, weak pulse',
    },
    herbs: ['astragalus', 'codonopsis', 'jujube'],
    diet: 'warm, light meals; little raw food',
  },
  'yin deficiency': {
    signs: ['sleep', 'insomnia', 'night', 'dry', 'thirst', 'hot', 'palms'],
    observed: {
      look: 'red tongue, scant coating',
      listen: 'hoarse, dry voice',
      inquiry: 'poor sleep, night sweats, dry mouth',
      palpation: 'thin, rapid pulse',
    },
    herbs: ['rehmannia', 'goji berry', 'lily bulb'],
    diet: 'moistening foods (pear, tremella); little spice',
  },
  'damp heat': {
    signs: ['bitter', 'yellow', 'heavy', 'sticky', 'acne', 'urine'],
    observed: {
      look: 'yellow, greasy coating',
      listen: 'heavy, turbid breath',
      inquiry: 'bitter taste, heavy limbs',
      palpation: 'slippery, rapid pulse',
    },
    herbs: ['coix seed', 'poria', 'mung bean'],
    diet: 'bland food; no alcohol, fried or sweet food',
  },
  'blood stasis': {
    signs: ['pain', 'headache', 'bruise', 'numb', 'dark', 'cramps'],
    observed: {
      look: 'dark purple tongue',
      listen: 'normal voice',
      inquiry: 'fixed, stabbing pain',
      palpation: 'choppy pulse',
    },
    herbs: ['hawthorn', 'safflower', 'salvia'],
    diet: 'warming foods; regular movement',
  },
};

/** Lower-case words; camelCase and snake_case keys split (`sleepHours`, `sleep_hours` → sleep, hours). */
const words = (text: string) =>
  text
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .match(/[a-z]+/g) ?? [];

/** Each syndrome's score: how many of the symptoms' words are among its signs. Best first, ties by name. */
export function scoreSyndromes(symptoms: readonly string[]): { syndrome: string; score: number }[] {
  const said = new Set(symptoms.flatMap(words));
  return Object.entries(SYNDROMES)
    .map(([syndrome, s]) => ({ syndrome, score: s.signs.filter((w) => said.has(w)).length }))
    .sort((a, b) => b.score - a.score || a.syndrome.localeCompare(b.syndrome));
}

/** One diagnostic method's finding: what it observes of the most likely syndrome, with a confidence. */
export function diagnoseBy(method: Method, symptoms: readonly string[]) {
  const ranked = scoreSyndromes(symptoms);
  const best = ranked[0]!;
  const total = ranked.reduce((n, r) => n + r.score, 0);
  if (best.score === 0) return { method, finding: 'no remarkable signs', syndrome: 'balanced', confidence: 0 };
  return {
    method,
    finding: SYNDROMES[best.syndrome]!.observed[method],
    syndrome: best.syndrome,
    confidence: Math.round((best.score / total) * 100) / 100,
  };
}

/** laoke's recommendation: herbs and diet of the best-scoring syndrome (general advice when nothing scores). */
export function recommend(symptoms: readonly string[]) {
  const best = scoreSyndromes(symptoms)[0]!;
  if (best.score === 0) return { syndrome: 'balanced', herbs: ['chrysanthemum tea'], diet: 'balanced, regular meals' };
  const s = SYNDROMES[best.syndrome]!;
  return { syndrome: best.syndrome, herbs: s.herbs, diet: s.diet };
}

/** rag-service's index: documents by id, found by how many of the query's words they contain. */
export class RetrievalIndex {
  readonly #docs = new Map<string, { owner: string; terms: Set<string>; text: string }>();

  add(id: string, owner: string, text: string): void {
    this.#docs.set(id, { owner, terms: new Set(words(text)), text });
  }

  count(owner: string): number {
    let n = 0;
    for (const d of this.#docs.values()) if (d.owner === owner) n++;
    return n;
  }

  /** The owner's documents sharing at least one word with `query`, best first (then by id), at most `k`. */
  search(owner: string, query: string, k = 3): { id: string; score: number; text: string }[] {
    const q = new Set(words(query));
    const hits: { id: string; score: number; text: string }[] = [];
    for (const [id, d] of this.#docs) {
      if (d.owner !== owner) continue;
      let score = 0;
      for (const t of q) if (d.terms.has(t)) score++;
      if (score > 0) hits.push({ id, score, text: d.text });
    }
    return hits.sort((a, b) => b.score - a.score || a.id.localeCompare(b.id)).slice(0, k);
  }
}
