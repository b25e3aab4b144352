/** Discovery's reasons, as the CLI reads them (src/discovery/reasons.ts): one rule for both. */
export { reasonFor, REASONS, standingReasons, warningsOf, type Info } from '../../src/discovery/reasons';
