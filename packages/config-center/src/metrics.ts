import { getMeter, metricName } from '@ballast/core';

/**
 * `ballast_config_center_*` instruments of one config: reloads (accepted new snapshots) and rejected updates
 * by `{source}`, and the current version of each remote source as an observable gauge.
 */
export function configInstruments(versions: () => Iterable<[string, number]>) {
  const meter = getMeter('@ballast/config-center');
  const reloads = meter.createCounter(metricName('config_center', 'reloads_total'), {
    description: 'New config snapshots swapped in, by the source that changed',
  });
  const rejected = meter.createCounter(metricName('config_center', 'rejected_updates_total'), {
    description: 'Updates rejected by the schema (or unparsable): the last-known-good stayed live',
  });
  const fallbacks = meter.createCounter(metricName('config_center', 'lkg_fallbacks_total'), {
    description:
      'Remote states refused (invalid at start, version went back, prefix emptied): the last-known-good served',
  });
  const version = meter.createObservableGauge(metricName('config_center', 'version'), {
    description: 'Current version of each remote source',
  });
  const observe = (result: { observe(value: number, attributes: Record<string, string>): void }) => {
    for (const [source, v] of versions()) result.observe(v, { source });
  };
  version.addCallback(observe);
  return {
    reloads,
    rejected,
    fallbacks,
    dispose: () => version.removeCallback(observe),
  };
}
