/**
 * Create or configure a job. On edit only the changed fields are sent: every field a person
 * sets is remembered as theirs, and re-discovery must keep updating the rest.
 * The state, validation and bodies live in ../job-form-state.ts (plain TypeScript, tested under
 * Node); the view is JobFormView.tsx.
 */
import type { ApiError } from '../api';
import type { FormState } from '../job-form-state';
import type { Job } from '../types';

export {
  ALERT_LABEL,
  ALERTS,
  changes,
  DEFAULTS,
  FIELDS,
  forCreate,
  formField,
  initialState,
  MISFIRE,
  notDefault,
  OVERLAP,
  parseEmails,
  parseEnv,
  parseNodeSelector,
  parseNumber,
  REQUIRES_MODE,
  SCRIPT_TYPES,
  SECTIONS,
  sectionOf,
  toBody,
  type FormState,
  type Kind,
  type SectionId,
} from '../job-form-state';

export interface JobFormProps {
  job?: Job;
  slots: string[];
  busy: boolean;
  error: ApiError | null;
  onSubmit: (s: FormState) => Promise<Record<string, string> | void>;
  onCancel: () => void;
}
