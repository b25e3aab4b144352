/**
 * The dashboard restates the API's JSON shapes in web/src/types.ts (web/ cannot import the
 * server's schemas: they pull in the server's modules). This file holds the two together: what
 * the API's response schemas (src/api/schemas.ts, the OpenAPI document) say a response is must
 * be assignable to what the dashboard reads. A field the dashboard reads that the API does not
 * send, or sends as another type, fails `npm test` (test/typecheck.test.ts type-checks this
 * file), not the dashboard at run time. Nothing here runs.
 */
import type { Static } from 'typebox';
import type { AlertOut, DependencyChangeOut, DependencyLinks, DependencyRemovedOut, HealthCounts, JobDetail, NodeList, RunOut, SlotOut, TrendOut } from '../src/api/schemas.js';
import type { Alert, Dependencies, DependencyChange, DependencyRemoval, Health, Job, Nodes, Run, SlotUsage, TrendDay } from '../web/src/types.js';

/** Compiles only when a value the API sends can be read as the dashboard's type. */
function reads<Read>(sent: Read): Read {
  return sent;
}
declare const sent: {
  job: Static<typeof JobDetail>;
  run: Static<typeof RunOut>;
  alert: Static<typeof AlertOut>;
  slot: Static<typeof SlotOut>;
  trend: Static<typeof TrendOut>;
  counts: Static<typeof HealthCounts>;
  links: Static<typeof DependencyLinks>;
  linkChange: Static<typeof DependencyChangeOut>;
  linkRemoval: Static<typeof DependencyRemovedOut>;
  nodes: Static<typeof NodeList>;
};
export const checks = () => [
  reads<Job>(sent.job),
  reads<Run>(sent.run),
  reads<Alert>(sent.alert),
  reads<SlotUsage>(sent.slot),
  reads<TrendDay>(sent.trend),
  reads<Record<Health, number>>(sent.counts),
  reads<Dependencies>(sent.links),
  reads<DependencyChange>(sent.linkChange),
  reads<DependencyRemoval>(sent.linkRemoval),
  reads<Nodes>(sent.nodes),
];
