/** The CLI's rule for how a run's status reads (`starting` before its start), shared so both say the same. */
export { statusLabel } from '../../src/cli/status-label';
