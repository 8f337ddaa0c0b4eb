/**
 * The dashboard page (bundled by esbuild into one script, no framework): a tab per panel, each rendered from
 * the JSON API, refreshed on every summary the live stream (SSE) pushes. Actions POST with the CSRF token the
 * page was served with. Text goes into the DOM as text nodes only (no innerHTML).
 */
// biome-ignore lint/suspicious/noExplicitAny: the API's JSON, read field by field as the panels render it
type Json = Record<string, any>;
type Child = Node | string | number | null | undefined | false | Child[];
type Loaded = Json;

const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content ?? '';
const BASE = meta('ballast-base');
const CSRF = meta('ballast-csrf');
const PANELS = meta('ballast-panels').split(',').filter(Boolean);

function h(tag: string, attrs: Json = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false || v === null) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v as EventListener);
    else el.setAttribute(k, String(v));
  }
  put(el, ...children);
  return el;
}

/** Appends children (text as text nodes; arrays flattened; null/false skipped). */
function put(el: HTMLElement, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) put(el, ...c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function table(head: string[], rows: Child[][], attrs: Json = {}): HTMLElement {
  return h(
    'table',
    attrs,
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        head.map((c) => h('th', {}, c)),
      ),
    ),
    h(
      'tbody',
      {},
      rows.length
        ? rows.map((r) =>
            h(
              'tr',
              {},
              r.map((c) => h('td', {}, c)),
            ),
          )
        : h('tr', {}, h('td', { colspan: head.length, class: 'muted' }, 'none')),
    ),
  );
}

const badge = (s: string) => h('span', { class: `badge ${s}` }, s);
const when = (ms?: number) => (ms ? new Date(ms).toLocaleString() : '');
const pretty = (v: unknown) => h('pre', {}, JSON.stringify(v, null, 2));

async function api(path: string, init?: RequestInit): Promise<Json> {
  const res = await fetch(`${BASE}/api/${path}`, { credentials: 'same-origin', ...init });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}
const enc = encodeURIComponent;

/** The `counts` field of a job state, where it differs (`waitingChildren`: flow parents waiting for children). */
const COUNT_FIELD: Record<string, string> = { 'waiting-children': 'waitingChildren' };
/** The job states a queue's counts report: `waiting-children` only where the queue has flows (and counts it). */
const jobStates = (counts: Json) =>
  ['waiting', 'waiting-children', 'delayed', 'active', 'completed', 'failed', 'dead'].filter(
    (s) => s !== 'waiting-children' || counts.waitingChildren !== undefined,
  );

function toast(text: string, error = false) {
  const t = document.getElementById('toast')!;
  t.textContent = text;
  t.className = `show${error ? ' err' : ''}`;
  setTimeout(() => {
    if (t.textContent === text) t.className = '';
  }, 4000);
}

/** Runs an action (after confirmation), reports the outcome, re-renders. */
function action(label: string, path: string, body: Json = {}, question?: string) {
  return h(
    'button',
    {
      class: 'act',
      'data-action': path,
      onclick: async () => {
        if (question && !confirm(question)) return;
        try {
          await api(path, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-ballast-csrf': CSRF },
            body: JSON.stringify(body),
          });
          toast(`${label}: done`);
        } catch (e) {
          toast(`${label}: ${(e as Error).message}`, true);
        }
        void render();
      },
    },
    label,
  );
}

// ---- panels ---------------------------------------------------------------------------------------------

const view: Json = {
  queue: '',
  state: 'waiting',
  search: '',
  job: '',
  stream: '',
  letter: '',
  saga: '',
  sagaStatus: '',
  diff: 0,
};

/** Changes what the panel shows and renders it again. */
function go(patch: Json, event?: Event): void {
  event?.preventDefault();
  Object.assign(view, patch);
  void render();
}

const panels: Record<string, () => Promise<HTMLElement>> = {
  async breakers() {
    const { breakers } = await api('breakers');
    return h(
      'section',
      {},
      h('h2', {}, 'Circuit breakers'),
      table(
        ['breaker', 'state', 'fires', 'ok', 'failed', 'timeouts', 'rejected', 'p50 ms', 'p99 ms', 'total calls', ''],
        breakers.map((b: Json) => [
          b.name,
          h('span', {}, badge(b.state), b.isolated ? h('span', { class: 'muted' }, ' isolated') : null),
          b.stats.fires,
          b.stats.successes,
          b.stats.failures,
          b.stats.timeouts,
          b.stats.rejects,
          b.stats.percentiles.p50,
          b.stats.percentiles.p99,
          Object.values(b.totals as Json).reduce((n: number, v) => n + (v as number), 0),
          [
            action('Open', `breakers/${enc(b.name)}/open`, {}, `Force breaker ${b.name} open?`),
            action('Close', `breakers/${enc(b.name)}/close`),
            b.isolated
              ? action('Release', `breakers/${enc(b.name)}/release`)
              : action('Isolate', `breakers/${enc(b.name)}/isolate`, {}, `Isolate ${b.name}?`),
          ],
        ]),
        { 'data-panel-table': 'breakers' },
      ),
    );
  },

  async queues() {
    const { queues } = await api('queues');
    if (!view.queue && queues.length) view.queue = queues[0].name;
    const cards = h(
      'div',
      { class: 'grid' },
      queues.map((q: Json) =>
        h(
          'div',
          { class: 'card', 'data-queue': q.name },
          h(
            'h3',
            {},
            h('a', { href: '#', onclick: (e: Event) => go({ queue: q.name }, e) }, q.name),
            q.paused ? ' (paused)' : '',
          ),
          table(
            ['state', 'jobs'],
            [
              ...jobStates(q.counts).map((s) => [s, q.counts[COUNT_FIELD[s] ?? s]]),
              ...Object.entries(q.counts.byPriority ?? {}).map(([p, n]) => [`waiting · ${p}`, n as number]),
            ],
          ),
          q.paused
            ? action('Resume', `queues/${enc(q.name)}/resume`)
            : action('Pause', `queues/${enc(q.name)}/pause`, {}, `Pause every worker of ${q.name}?`),
        ),
      ),
    );
    const section = h('section', {}, h('h2', {}, 'Queues'), cards);
    if (!view.queue) return section;
    const q = enc(view.queue);
    const current = queues.find((x: Json) => x.name === view.queue);
    const dead = await api(`queues/${q}/dead?limit=50`);
    put(
      section,
      h('h2', {}, `Dead jobs of ${view.queue}`),
      table(
        ['job', 'name', 'attempts', 'last error', 'created', ''],
        dead.jobs.map((j: Json) => [
          j.id,
          j.name,
          `${j.attemptsMade}/${j.maxAttempts}`,
          j.error?.message ?? '',
          when(j.createdAt),
          [
            action('Replay', `queues/${q}/dead/replay`, { ids: [j.id] }),
            current?.canRemoveDead
              ? action('Remove', `queues/${q}/dead/remove`, { ids: [j.id] }, `Remove dead job ${j.id} for good?`)
              : null,
            h('button', { class: 'act', onclick: () => go({ job: j.id }) }, 'Detail'),
          ],
        ]),
        { 'data-panel-table': 'dead-jobs' },
      ),
      dead.jobs.length
        ? action(
            'Replay all on this page',
            `queues/${q}/dead/replay`,
            { ids: dead.jobs.map((j: Json) => j.id) },
            `Replay ${dead.jobs.length} dead jobs?`,
          )
        : null,
    );
    const sched = await api(`queues/${q}/schedulers`);
    if (sched.supported) {
      put(
        section,
        h('h2', {}, `Schedulers of ${view.queue}`),
        table(
          ['scheduler', 'schedule', 'job', 'made', 'next run'],
          sched.schedulers.map((s: Json) => [
            s.id,
            s.pattern ? `${s.pattern}${s.tz ? ` (${s.tz})` : ''}` : `every ${s.every} ms`,
            s.template.name,
            s.limit ? `${s.count}/${s.limit}` : s.count,
            when(s.nextRunAt),
          ]),
          { 'data-panel-table': 'schedulers' },
        ),
      );
    }
    const stateSelect = h(
      'select',
      { onchange: (e: Event) => go({ state: (e.target as HTMLSelectElement).value }), 'data-select': 'job-state' },
      jobStates(current?.counts ?? {}).map((s) => h('option', { value: s, selected: s === view.state }, s)),
    );
    const search = h('input', {
      placeholder: 'search id or name',
      value: view.search,
      'data-search': 'jobs',
    }) as HTMLInputElement;
    search.addEventListener('change', () => go({ search: search.value }));
    const jobs = await api(`queues/${q}/jobs?state=${view.state}&limit=50&search=${enc(view.search)}`);
    put(
      section,
      h('h2', {}, 'Jobs ', stateSelect, ' ', search),
      table(
        ['job', 'name', 'priority', 'attempts', 'created', ''],
        jobs.jobs.map((j: Json) => [
          j.id,
          j.name,
          j.priority,
          `${j.attemptsMade}/${j.maxAttempts}`,
          when(j.createdAt),
          h('button', { class: 'act', onclick: () => go({ job: j.id }) }, 'Detail'),
        ]),
        { 'data-panel-table': 'jobs' },
      ),
    );
    if (view.job) {
      const job = await api(`queues/${q}/jobs/${enc(view.job)}`).catch((e): Loaded => ({ error: e.message }));
      put(
        section,
        h('h2', {}, `Job ${view.job} `, h('button', { class: 'act', onclick: () => go({ job: '' }) }, 'close')),
        job.errors?.length
          ? table(
              ['attempt', 'error', 'at'],
              job.errors.map((e: Json, i: number) => [i + 1, e.message, when(e.at)]),
            )
          : null,
        pretty(job),
      );
    }
    return section;
  },

  async streams() {
    const { streams } = await api('streams');
    const section = h(
      'section',
      {},
      h('h2', {}, 'Event streams'),
      streams.map((s: Json) =>
        h(
          'div',
          { class: 'card', 'data-stream': `${s.bus}/${s.type}` },
          h(
            'h3',
            {},
            `${s.type}`,
            h('span', { class: 'muted' }, ` on ${s.bus}`),
            ' · ',
            h(
              'a',
              {
                href: '#',
                onclick: (e: Event) => go({ stream: `${s.bus}/${s.type}` }, e),
              },
              `${s.deadLetters}${s.deadLettersCapped ? '+' : ''} dead letters`,
            ),
          ),
          table(
            ['group', 'pending', 'lag', 'consumers'],
            s.groups.map((g: Json) => [
              g.name,
              g.pending,
              g.lag,
              g.consumers.map((c: Json) => `${c.name} (${c.pending} pending, idle ${c.idleMs} ms)`).join(', '),
            ]),
          ),
        ),
      ),
    );
    if (!view.stream && streams.length) view.stream = `${streams[0].bus}/${streams[0].type}`;
    if (view.stream) {
      const [bus, type] = view.stream.split('/');
      const path = `streams/${enc(bus)}/${enc(type)}/dlq`;
      const { deadLetters } = await api(path);
      put(
        section,
        h('h2', {}, `Dead letters of ${type}`),
        table(
          ['entry', 'original', 'group', 'deliveries', 'reason', 'dead at', ''],
          deadLetters.map((d: Json) => [
            d.id,
            d.originalId,
            d.group,
            d.deliveries,
            d.reason,
            when(d.deadAt),
            [
              h('button', { class: 'act', onclick: () => go({ letter: d.id }) }, 'Inspect'),
              action('Replay', `${path}/${enc(d.id)}/replay`),
              action('Delete', `${path}/${enc(d.id)}/delete`, {}, `Delete dead letter ${d.id} for good?`),
            ],
          ]),
          { 'data-panel-table': 'stream-dlq' },
        ),
      );
      if (view.letter) {
        const letter = await api(`${path}/${enc(view.letter)}`).catch((e): Loaded => ({ error: e.message }));
        put(section, h('h3', {}, `Dead letter ${view.letter}`), pretty(letter));
      }
    }
    return section;
  },

  async sagas() {
    const dlq = await api('sagas/dlq');
    const list = await api(`sagas${view.sagaStatus ? `?status=${view.sagaStatus}` : ''}`);
    const status = h(
      'select',
      { onchange: (e: Event) => go({ sagaStatus: (e.target as HTMLSelectElement).value }) },
      [
        ['', 'running + compensating'],
        ['running', 'running'],
        ['compensating', 'compensating'],
      ].map(([v, l]) => h('option', { value: v, selected: v === view.sagaStatus }, l)),
    );
    const open = (id: string) => h('a', { href: '#', onclick: (e: Event) => go({ saga: id }, e) }, id);
    const section = h(
      'section',
      {},
      h('h2', {}, 'Failed compensations (saga DLQ)'),
      table(
        ['entry', 'saga', 'id', 'reason', 'step', 'error', 'at', ''],
        dlq.deadLetters.map((d: Json) => [
          d.id,
          d.saga,
          open(d.sagaId),
          d.reason ?? 'compensation_failed',
          d.step,
          errorText(d.error),
          when(d.at),
          action('Retry', `sagas/dlq/${enc(d.id)}/retry`, {}, `Retry the compensations of saga ${d.sagaId}?`),
        ]),
        { 'data-panel-table': 'saga-dlq' },
      ),
      h('h2', {}, 'In flight ', status),
      table(
        ['saga', 'id', 'status', 'step', 'updated', ''],
        list.sagas.map((s: Json) => [
          s.saga,
          open(s.id),
          badge(s.status),
          s.currentStep,
          when(s.updatedAt),
          action('Cancel', `sagas/${enc(s.id)}/cancel`, {}, `Cancel saga ${s.id} and compensate its steps?`),
        ]),
        { 'data-panel-table': 'sagas' },
      ),
    );
    if (view.saga) {
      const s = await api(`sagas/${enc(view.saga)}`).catch((e): Loaded => ({ error: e.message }));
      put(
        section,
        h('h2', {}, `Saga ${view.saga} `, s.status ? badge(s.status) : null),
        s.error && !s.saga ? h('p', {}, s.error) : timeline(s),
        pretty(s.context ?? s),
      );
    }
    return section;
  },

  async locks() {
    const { resources, stats } = await api('locks');
    const left = (ms: number | null) => (ms === null ? '?' : `${(ms / 1000).toFixed(1)} s`);
    return h(
      'section',
      {},
      h('h2', {}, 'Locks'),
      table(
        ['lock', 'mode', 'holder', 'reentrant', 'fencing token', 'expires in', 'waiters'],
        resources.flatMap((r: Json) => {
          const waiters = r.waiters
            .map((w: Json) => `${w.token} (${w.queued ? 'queued' : 'waiting'}, ${left(w.ttlMs)})`)
            .join(', ');
          if (!r.holders.length) return [[r.resource, 'free', '', '', '', '', waiters]];
          return r.holders.map((x: Json) => [
            r.resource,
            r.mode,
            x.token,
            x.count,
            x.fencingToken ?? '?',
            left(x.ttlMs),
            waiters,
          ]);
        }),
        { 'data-panel-table': 'locks' },
      ),
      stats ? [h('h3', {}, 'This process'), pretty(stats)] : null,
    );
  },

  async discovery() {
    const { backend, services } = await api('discovery');
    return h(
      'section',
      {},
      h('h2', {}, `Services (${backend})`),
      services.map((s: Json) =>
        h(
          'div',
          { 'data-service': s.name },
          h('h3', {}, s.name),
          table(
            ['instance', 'url', 'status', 'tags'],
            s.instances.map((i: Json) => [
              i.id,
              i.url,
              [badge(i.status), i.ejected ? [' ', badge('ejected')] : null],
              i.tags.join(', '),
            ]),
          ),
        ),
      ),
    );
  },

  async config() {
    const current = await api('config');
    const { versions } = await api('config/history');
    const section = h(
      'section',
      {},
      h(
        'h2',
        {},
        `Config ${current.name} · version `,
        h('span', { 'data-config-version': current.version }, current.version),
      ),
      table(
        ['key', 'value'],
        Object.entries(current.entries).map(([k, v]) => [
          k,
          typeof v === 'boolean'
            ? h(
                'span',
                { 'data-flag': k, 'data-value': String(v) },
                JSON.stringify(v),
                ' ',
                action(v ? 'Turn off' : 'Turn on', 'config/flag', { key: k, value: !v }, `Set ${k} to ${!v}?`),
              )
            : JSON.stringify(v),
        ]),
        { 'data-panel-table': 'config' },
      ),
      h('h2', {}, 'History'),
      table(
        ['version', 'at', 'keys', 'note', ''],
        versions.map((v: Json) => [
          v.version,
          when(v.at),
          Object.keys(v.entries).length,
          v.rollbackOf ? `rollback to ${v.rollbackOf}` : (v.message ?? ''),
          v.version === current.version
            ? h('span', { class: 'muted' }, 'current')
            : [
                h('button', { class: 'act', onclick: () => go({ diff: v.version }) }, 'Diff'),
                action(
                  'Roll back',
                  'config/rollback',
                  { version: v.version },
                  `Make version ${v.version} current again?`,
                ),
              ],
        ]),
        { 'data-panel-table': 'config-history' },
      ),
    );
    if (view.diff) {
      const d = await api(`config/diff?from=${view.diff}`);
      put(
        section,
        h('h2', {}, `Changes from version ${d.from} to ${d.to}`),
        table(
          ['key', 'change', 'from', 'to'],
          d.changes.map((c: Json) => [
            c.key,
            h('span', { class: c.change === 'added' ? 'add' : c.change === 'removed' ? 'del' : 'chg' }, c.change),
            JSON.stringify(c.from) ?? '',
            JSON.stringify(c.to) ?? '',
          ]),
          { 'data-panel-table': 'config-diff' },
        ),
      );
    }
    return section;
  },
};

function errorText(stored: string): string {
  try {
    const e = JSON.parse(stored);
    return `${e.name ?? 'Error'}: ${e.message ?? ''}`;
  } catch {
    return stored;
  }
}

/** The saga's steps: done, compensated, in doubt, the failed one, then each compensation's outcome. */
function timeline(s: Json): HTMLElement {
  const compensated = new Set<string>(s.compensatedSteps ?? []);
  const items: Child[] = (s.executedSteps ?? []).map((step: string) =>
    h(
      'li',
      { class: compensated.has(step) ? 'undone' : 'done' },
      step,
      compensated.has(step) ? ' — compensated' : ' — done',
    ),
  );
  for (const step of s.inDoubtSteps ?? []) items.push(h('li', { class: 'undone' }, step, ' — in doubt'));
  if (s.failedStep)
    items.push(h('li', { class: 'failed' }, s.failedStep, ' — failed', s.error ? `: ${s.error.message}` : ''));
  for (const c of s.compensations ?? []) {
    const tries = c.attempts === 1 ? '1 try' : `${c.attempts} tries`;
    items.push(
      h(
        'li',
        { class: c.result === 'failed' ? 'failed' : 'undone' },
        `compensate ${c.step} — ${c.result}`,
        c.result === 'skipped' ? ' (nothing to undo)' : ` (${tries})`,
        c.inDoubt ? ', in doubt' : '',
        c.result === 'failed' && c.error ? `: ${c.error.message}` : '',
      ),
    );
  }
  return h('ul', { class: 'timeline', 'data-saga-timeline': s.id }, items);
}

// ---- shell ----------------------------------------------------------------------------------------------

let active = PANELS.includes(location.hash.slice(1)) ? location.hash.slice(1) : (PANELS[0] ?? '');
let rendering = false;

async function render(): Promise<void> {
  if (rendering || !active) return;
  rendering = true;
  const main = document.getElementById('panel')!;
  try {
    const el = await panels[active]!();
    el.setAttribute('data-panel', active);
    main.replaceChildren(el);
  } catch (e) {
    main.replaceChildren(h('p', { class: 'bad' }, `Could not load ${active}: ${(e as Error).message}`));
  } finally {
    rendering = false;
  }
}

function tabs(): void {
  const nav = document.getElementById('tabs')!;
  nav.replaceChildren(
    ...PANELS.map((p) =>
      h(
        'button',
        {
          class: p === active ? 'on' : null,
          'data-tab': p,
          onclick: () => {
            active = p;
            location.hash = p;
            tabs();
            void render();
          },
        },
        p[0]!.toUpperCase() + p.slice(1),
      ),
    ),
  );
}

tabs();
void render();
const live = new EventSource(`${BASE}/api/events`);
const indicator = document.getElementById('live')!;
live.addEventListener('summary', () => {
  indicator.textContent = `live · ${new Date().toLocaleTimeString()}`;
  indicator.className = 'live on';
  // Not while someone types into the panel: a re-render would take the field away.
  if (!(document.activeElement instanceof HTMLInputElement)) void render();
});
live.addEventListener('error', () => {
  indicator.textContent = 'reconnecting…';
  indicator.className = 'live';
});
