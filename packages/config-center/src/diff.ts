/** One key's change between two versions' flat entries. */
export interface EntryChange {
  key: string;
  change: 'added' | 'removed' | 'changed';
  from?: unknown;
  to?: unknown;
}

/** Keys added, removed and changed from `a` to `b`, sorted by key (values compared as JSON). */
export function diffEntries(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): EntryChange[] {
  const rows: EntryChange[] = [];
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    const inA = key in a;
    const inB = key in b;
    if (inA && !inB) rows.push({ key, change: 'removed', from: a[key] });
    else if (!inA && inB) rows.push({ key, change: 'added', to: b[key] });
    else if (JSON.stringify(a[key]) !== JSON.stringify(b[key]))
      rows.push({ key, change: 'changed', from: a[key], to: b[key] });
  }
  return rows;
}
