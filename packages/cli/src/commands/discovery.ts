/**
 * `ballast discovery list [services…]`: registered instances with their health, from the Redis registry
 * (default) or Consul (`--consul` / `CONSUL_HTTP_ADDR`). Without service names, every service registered.
 */
import { globEscape, prefixKey, resolveConsulEndpoint, scanKeys } from '@ballast/core';
import type { DiscoveryBackend, ServiceInstance } from '@ballast/discovery';
import type { Command } from 'commander';
import { type ConnectionOptions, prefixOf, withRedis } from '../connect';
import { CliError, EXIT, type Io, type OutputOptions, print } from '../io';

type Opts = ConnectionOptions & OutputOptions & { consul?: string };

const row = (i: ServiceInstance) => ({
  service: i.name,
  id: i.id,
  url: i.url,
  status: i.status,
  tags: i.tags.join(','),
});

async function listAll(backend: DiscoveryBackend, names: readonly string[]): Promise<ServiceInstance[]> {
  const results = await Promise.all(names.map((n) => backend.query(n)));
  return results.flatMap((r) => r.instances).sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
}

export function discoveryCommands(program: Command, io: Io, global: () => Opts): void {
  const discovery = program.command('discovery').description('service instances of @ballast/discovery');
  discovery
    .command('list [services...]')
    .description('instances of the services named (default: every registered service) and their health')
    .action(async (services: string[]) => {
      const o = global();
      const timeoutMs = o.timeout ?? 5_000;
      const consul = o.consul ?? process.env.CONSUL_HTTP_ADDR;
      let instances: ServiceInstance[];
      if (consul) {
        const { ConsulBackend, createConsulClient } = await import('@ballast/discovery');
        const endpoint = resolveConsulEndpoint({ address: consul });
        let names = services;
        if (!names.length) {
          const res = await fetch(`${endpoint.url}/v1/catalog/services`, {
            headers: endpoint.token ? { 'X-Consul-Token': endpoint.token } : {},
            signal: AbortSignal.timeout(timeoutMs),
          }).catch((e: unknown) => {
            throw new CliError(`Consul at ${endpoint.url} is unreachable: ${(e as Error).message}`, EXIT.failure);
          });
          if (!res.ok) throw new CliError(`Consul at ${endpoint.url} answered ${res.status}`, EXIT.failure);
          names = Object.keys((await res.json()) as Record<string, unknown>).filter((n) => n !== 'consul');
        }
        const client = createConsulClient({ url: consul, timeoutMs });
        try {
          instances = await listAll(new ConsulBackend({ client }), names);
        } finally {
          client.close();
        }
      } else {
        instances = await withRedis(o, async (redis) => {
          const { RedisBackend } = await import('@ballast/discovery');
          let names = services;
          if (!names.length) {
            const head = prefixKey(prefixOf(o), 'discovery:{');
            const found = new Set<string>();
            for await (const key of scanKeys(redis, `${globEscape(head)}*}:instances`)) {
              found.add(key.slice(head.length, key.length - '}:instances'.length));
            }
            names = [...found];
          }
          const backend = new RedisBackend({ redis, prefix: prefixOf(o), commandTimeoutMs: timeoutMs });
          try {
            return await listAll(backend, names);
          } finally {
            await backend.close();
          }
        });
      }
      print(io, o, instances, instances.map(row));
    });
}
