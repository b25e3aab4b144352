/**
 * The job page's "other settings": src/jobs/settings.ts (shared with `smart-cron jobs show`),
 * with durations written as the dashboard writes them.
 */
import { otherSettings as settingsOf } from '../../src/jobs/settings.js';
import { duration } from './format.js';
import type { Job } from './types.js';

export const otherSettings = (job: Job): [string, string][] => settingsOf(job, (s) => duration(s * 1000));
