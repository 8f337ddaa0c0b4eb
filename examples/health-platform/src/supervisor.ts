/**
 * A small process supervisor: one Node process per group (`src/service.ts <group>`), restarted with backoff
 * when it dies (500 ms doubling to 8 s; back to 500 ms once a process stayed up 10 s), one status table, and an
 * orderly stop: SIGTERM to each (each deregisters, drains and exits), SIGKILL only past a deadline.
 * Activities of every process come up over IPC into one log; the processes that ask for them (the gateway's,
 * for its dashboard and saga list) get everyone else's.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Activity, ActivityLog } from './context';

interface Ready {
  t: 'ready';
  group: string;
  pid: number;
  services: { name: string; instances: string[] }[];
  wantsActivity: boolean;
  gatewayUrl?: string;
}

export interface ProcessState {
  group: string;
  pid: number | undefined;
  status: 'starting' | 'up' | 'restarting' | 'stopped';
  restarts: number;
  services: Ready['services'];
  startedAt: number;
  gatewayUrl?: string;
}

const entry = fileURLToPath(new URL('./service.ts', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));

export class Supervisor {
  readonly procs = new Map<string, ProcessState & { child?: ChildProcess; wantsActivity: boolean; failures: number }>();
  #stopping = false;
  readonly #readyWaiters = new Set<() => void>();

  constructor(
    readonly groups: string[],
    readonly options: {
      env: Record<string, string>;
      activity: ActivityLog;
      /** Supervisor lines (exits, restarts). */
      log: (line: string) => void;
    },
  ) {}

  /** Starts every group; resolves once each reported ready (services registered). */
  async start(timeoutMs = 45_000): Promise<void> {
    for (const g of this.groups) this.#spawn(g);
    await this.#until(() => [...this.procs.values()].every((p) => p.status === 'up'), timeoutMs, 'every group up');
  }

  #spawn(group: string): void {
    const prev = this.procs.get(group);
    const child = fork(entry, [group], {
      cwd: root,
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...this.options.env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // A process group of its own: a terminal's Ctrl-C reaches the supervisor only, which stops the services
      // in order (and does not mistake their exits for crashes). A service whose supervisor died exits on the
      // IPC channel's disconnect.
      detached: true,
    });
    const state = {
      group,
      pid: child.pid,
      status: 'starting' as ProcessState['status'],
      restarts: prev ? prev.restarts + (prev.status === 'restarting' ? 1 : 0) : 0,
      services: prev?.services ?? [],
      startedAt: Date.now(),
      child,
      wantsActivity: prev?.wantsActivity ?? false,
      failures: prev?.failures ?? 0,
      ...(prev?.gatewayUrl ? { gatewayUrl: prev.gatewayUrl } : {}),
    };
    this.procs.set(group, state);
    child.on('message', (m: Ready | { t: 'activity'; a: Activity }) => {
      if (m.t === 'activity') return this.#relay(m.a, group);
      if (m.t === 'ready') {
        Object.assign(state, { status: 'up', services: m.services, wantsActivity: m.wantsActivity });
        if (m.gatewayUrl) state.gatewayUrl = m.gatewayUrl;
        this.options.activity.add('supervisor', 'process-up', `${group} up (pid ${m.pid})`, { group, pid: m.pid });
        for (const w of this.#readyWaiters) w();
      }
    });
    child.on('error', (e) => this.options.log(`[supervisor] ${group}: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (this.procs.get(group)?.child !== child) return;
      if (this.#stopping) {
        state.status = 'stopped';
        return;
      }
      // Crashed (or killed): restart with backoff; a process that stayed up 10 s starts the backoff afresh.
      state.failures = Date.now() - state.startedAt > 10_000 ? 1 : state.failures + 1;
      const delay = Math.min(8_000, 500 * 2 ** (state.failures - 1));
      state.status = 'restarting';
      const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
      this.options.log(`[supervisor] ${group} (pid ${child.pid}) ${how} — restarting in ${delay} ms`);
      this.options.activity.add('supervisor', 'process-exit', `${group} (pid ${child.pid}) ${how}`, {
        group,
        pid: child.pid,
        delayMs: delay,
      });
      setTimeout(() => {
        if (!this.#stopping) this.#spawn(group);
      }, delay).unref();
    });
  }

  #relay(a: Activity, from: string): void {
    this.options.activity.ingest(a);
    for (const p of this.procs.values()) {
      if (p.group !== from && p.wantsActivity && p.child?.connected) p.child.send({ t: 'activity', a });
    }
  }

  /** The supervisor's own activities reach the processes that follow activities too. */
  forwardOwn(a: Activity): void {
    for (const p of this.procs.values()) if (p.wantsActivity && p.child?.connected) p.child.send({ t: 'activity', a });
  }

  /** Kills a group's process the hard way (no drain: a crash). Returns the pid that was killed. */
  kill(group: string, signal: NodeJS.Signals = 'SIGKILL'): number {
    const p = this.procs.get(group);
    if (!p?.child?.pid || p.status !== 'up') throw new Error(`${group} is not up`);
    p.child.kill(signal);
    return p.child.pid;
  }

  /** Resolves with the pid of the group's next process once it is up (after `oldPid` died). */
  async waitRestarted(group: string, oldPid: number, timeoutMs = 30_000): Promise<number> {
    await this.#until(
      () => {
        const p = this.procs.get(group);
        return p?.status === 'up' && p.pid !== oldPid;
      },
      timeoutMs,
      `${group} restarted`,
    );
    return this.procs.get(group)!.pid!;
  }

  #until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        clearTimeout(timer);
        this.#readyWaiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(check);
        reject(new Error(`supervisor: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#readyWaiters.add(check);
    });
  }

  get gatewayUrl(): string | undefined {
    return [...this.procs.values()].find((p) => p.gatewayUrl)?.gatewayUrl;
  }

  /** One line per process: group, pid, status, restarts, the instances it serves. */
  table(): string {
    const rows = [...this.procs.values()].map((p) => [
      p.group,
      String(p.pid ?? '-'),
      p.status,
      String(p.restarts),
      p.services.flatMap((s) => s.instances).join(', '),
    ]);
    const head = ['process', 'pid', 'status', 'restarts', 'instances'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
    return [line(head), ...rows.map(line)].join('\n');
  }

  /** SIGTERM to every process (each deregisters, drains, exits); SIGKILL to any still running after `graceMs`. */
  async stop(graceMs = 12_000): Promise<void> {
    this.#stopping = true;
    const live = [...this.procs.values()].filter((p) => p.child && p.child.exitCode === null && !p.child.signalCode);
    await Promise.all(
      live.map(
        (p) =>
          new Promise<void>((resolve) => {
            const child = p.child!;
            const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
            child.once('exit', () => {
              clearTimeout(timer);
              p.status = 'stopped';
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
  }
}
