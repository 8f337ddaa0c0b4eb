import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, type RedisServer, startRedisServer } from './redis-server';

/**
 * A PRIVATE Redis Cluster for failover scenarios: 3 masters + 3 replicas on spare loopback ports (the shared
 * 7001-7003 cluster is never touched), no persistence, a short `cluster-node-timeout` so a killed master's
 * replica is promoted within seconds.
 */
export interface PrivateCluster {
  readonly nodes: RedisServer[];
  /** `['127.0.0.1:<p1>', …]`: `createRedis({ nodes })` makes a Cluster client of it. */
  readonly seeds: string[];
  /** The node (port) serving `key`'s slot as master now, and its replica. */
  ownerOf(key: string): Promise<{ master: number; replica: number | undefined }>;
  /** `CLUSTER FAILOVER` on `replicaPort` (graceful: the replica catches up first); resolves once it is master. */
  failover(replicaPort: number): Promise<void>;
  /** Ports of the nodes replicating `port` now (by their ROLE, whatever their sync state). */
  replicasOf(port: number): Promise<number[]>;
  /**
   * SIGSTOP a replica: it stops reading its replication link, so once the kernel's socket buffers are full what
   * its master writes stays in the master's memory — lost if the master dies then (see `killMaster`).
   */
  pause(port: number): void;
  /**
   * SIGKILL a node (no shutdown, nothing flushed); resolves when its replica is master (or the timeout passed). A
   * paused replica of it is resumed right after the kill (it then reads what reached its socket, finds its master
   * gone and is promoted without the rest).
   */
  killMaster(port: number, waitMs?: number): Promise<number | undefined>;
  /**
   * Starts a killed node again on its port and dir: it rejoins with its identity (nodes.conf) as a replica of the
   * master that replaced it; resolves once its replication link is up (a full sync: it has no data).
   */
  rejoin(port: number, waitMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const cli = (...args: string[]) =>
  new Promise<string>((resolve, reject) => {
    execFile('redis-cli', args, { timeout: 60_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`redis-cli ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout),
    );
  });

async function until(done: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await done().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export async function startPrivateCluster(options: { nodeTimeoutMs?: number } = {}): Promise<PrivateCluster> {
  const base = mkdtempSync(join(tmpdir(), 'ballast-cluster-'));
  const nodes: RedisServer[] = [];
  const probes = new Map<number, Redis>();
  const probe = (port: number) => {
    let r = probes.get(port);
    if (!r) {
      r = new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => 200 });
      r.on('error', () => {});
      probes.set(port, r);
    }
    return r;
  };
  try {
    for (let i = 0; i < 6; i++) {
      const port = await freePort();
      const dir = join(base, String(i));
      mkdirSync(dir);
      nodes.push(
        await startRedisServer({
          port,
          dir,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, 'nodes.conf'),
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 1_000),
            '--cluster-replica-validity-factor',
            '0',
            // Replicas sync at once (the default waits 5 s for more replicas to share one transfer).
            '--repl-diskless-sync',
            'yes',
            '--repl-diskless-sync-delay',
            '0',
          ],
        }),
      );
    }
    await cli(
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    );
    const ok = await until(async () => {
      for (const n of nodes) if (!(await probe(n.port).cluster('INFO')).includes('cluster_state:ok')) return false;
      // …and every replica synced (its ROLE says connected), so a failover has someone to promote.
      let masters = 0;
      let synced = 0;
      for (const n of nodes) {
        const role = (await probe(n.port).call('ROLE')) as unknown[];
        if (role[0] === 'master') masters++;
        else if (role[3] === 'connected') synced++;
      }
      return masters === 3 && synced === 3;
    }, 30_000);
    if (!ok) throw new Error('private cluster did not reach cluster_state:ok');
  } catch (error) {
    for (const r of probes.values()) r.disconnect();
    await Promise.allSettled(nodes.map((n) => n.stop()));
    rmSync(base, { recursive: true, force: true });
    throw error;
  }

  // This process ending without stop() (a crash, Ctrl-C) takes the nodes with it: no orphaned cluster.
  const onExit = () => {
    for (const n of nodes) n.process.kill('SIGKILL');
  };
  process.once('exit', onExit);
  const alive = new Set(nodes.map((n) => n.port));
  const paused = new Set<number>();
  const shards = async () => {
    for (const port of alive) {
      if (paused.has(port)) continue;
      try {
        return (await probe(port).call('CLUSTER', 'SHARDS')) as unknown[];
      } catch {}
    }
    throw new Error('no cluster node answers');
  };
  const replicasOf = async (port: number) => {
    const out: number[] = [];
    for (const n of nodes) {
      if (n.port === port || !alive.has(n.port) || paused.has(n.port)) continue;
      const role = (await probe(n.port).call('ROLE')) as unknown[];
      if (role[0] === 'slave' && Number(role[2]) === port) out.push(n.port);
    }
    return out;
  };
  const ownerOf = async (key: string) => {
    const anyPort = [...alive].find((p) => !paused.has(p))!;
    const slot = Number(await probe(anyPort).cluster('KEYSLOT', key));
    for (const shard of await shards()) {
      const s = shard as unknown[];
      const slots = s[1] as number[];
      const members = s[3] as unknown[][];
      let inShard = false;
      for (let i = 0; i < slots.length; i += 2) if (slot >= slots[i]! && slot <= slots[i + 1]!) inShard = true;
      if (!inShard) continue;
      let master: number | undefined;
      for (const m of members) {
        const f: Record<string, unknown> = {};
        for (let i = 0; i < m.length; i += 2) f[String(m[i])] = m[i + 1];
        if (f.role === 'master' && f.health === 'online' && alive.has(Number(f.port))) master = Number(f.port);
      }
      // Replicas by their own ROLE (SHARDS reports a synced replica 'online' only seconds later, by gossip).
      if (master !== undefined) return { master, replica: (await replicasOf(master))[0] };
    }
    throw new Error(`no master serves slot ${slot}`);
  };
  const roleOf = async (port: number) => ((await probe(port).call('ROLE')) as unknown[])[0];

  return {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`),
    ownerOf,
    async failover(replicaPort) {
      await probe(replicaPort).cluster('FAILOVER');
      const ok = await until(async () => (await roleOf(replicaPort)) === 'master', 20_000);
      if (!ok) throw new Error(`replica ${replicaPort} did not become master`);
    },
    replicasOf,
    pause(port) {
      nodes.find((n) => n.port === port)!.process.kill('SIGSTOP');
      paused.add(port);
    },
    async killMaster(port, waitMs = 20_000) {
      // A paused replica answers no ROLE: it is the one to promote (a SIGSTOPped node still counts as its replica).
      const pausedReplica = [...paused][0];
      const replicaPort = await (async () => {
        if (pausedReplica !== undefined) return pausedReplica;
        for (const n of nodes) {
          if (n.port === port || !alive.has(n.port)) continue;
          const role = (await probe(n.port).call('ROLE')) as unknown[];
          if (role[0] === 'slave' && Number(role[2]) === port) return n.port;
        }
        return undefined;
      })();
      const node = nodes.find((n) => n.port === port)!;
      node.process.kill('SIGKILL');
      alive.delete(port);
      probes.get(port)?.disconnect();
      probes.delete(port);
      if (pausedReplica !== undefined) {
        nodes.find((n) => n.port === pausedReplica)!.process.kill('SIGCONT');
        paused.delete(pausedReplica);
      }
      if (replicaPort === undefined) return undefined;
      await until(async () => (await roleOf(replicaPort)) === 'master', waitMs);
      return replicaPort;
    },
    async rejoin(port, waitMs = 30_000) {
      const node = nodes.find((n) => n.port === port)!;
      await node.restart();
      alive.add(port);
      const ok = await until(async () => {
        const role = (await probe(port).call('ROLE')) as unknown[];
        return role[0] === 'slave' && role[3] === 'connected';
      }, waitMs);
      if (!ok) throw new Error(`node ${port} did not rejoin as a synced replica`);
    },
    async stop() {
      process.off('exit', onExit);
      for (const p of paused) nodes.find((n) => n.port === p)!.process.kill('SIGCONT');
      for (const r of probes.values()) r.disconnect();
      await Promise.allSettled(nodes.map((n) => n.stop()));
      rmSync(base, { recursive: true, force: true });
    },
  };
}
