/** Discovery's reasons, as the CLI reads them (src/discovery/reasons.ts): one rule for both. */
export { reasonFor, REASONS, standingReasons, warningsOf, type Info } from '../../src/discovery/reasons';
/** What is gone of a job marked missing (its script, or its crontab entry), as the CLI says it. */
export { missingLabel, missingWhat } from '../../src/jobs/job';
