/**
 * How some values must look, with the words that say so: the job schema (jobs/definition.ts) and
 * config.yaml's (config/schema.ts) check them, and the dashboard's form (web/src/job-form-state.ts)
 * checks them before it sends. web/ and every layer import this file, so it imports nothing.
 */

/**
 * A job's name. Never digits alone: a job is referred to by name or by id, and a number is an id
 * (the dashboard's links, `/api/jobs/12`, `smart-cron run 12`).
 */
/** Names the API's fixed routes take (GET /api/jobs/list, /api/jobs/history): a job so named could not be read by name. */
export const RESERVED_JOB_NAMES = ['list', 'history'] as const;
export const JOB_NAME_PATTERN = `^(?![0-9]+$)(?!(?:${RESERVED_JOB_NAMES.join('|')})$)[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$`;
export const JOB_NAME = 'a name of letters, digits and . _ : @ / - that starts with a letter or digit and is not a number alone (a number refers to a job by its id) nor list or history (API routes), at most 200 characters';
/** An environment variable's name (job env, a manual run's extra env). */
export const ENV_NAME_PATTERN = '^[A-Za-z_][A-Za-z0-9_]*$';
export const ENV_NAME = 'an environment variable name (letters, digits and _, not starting with a digit)';
/** A node label's name (node_selector keys). */
export const NODE_LABEL_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$';
export const NODE_LABEL = 'a node label of letters, digits and . _ / - that starts with a letter or digit (at most 63 characters)';
export const EMAIL_PATTERN = '^[^@\\s]+@[^@\\s]+$';
export const EMAIL = 'an email address (name@host)';
export const USER_NAME_PATTERN = '^[a-z_][a-z0-9_.-]*\\$?$';
export const USER_NAME = 'a user name (lowercase letters, digits and _ . -)';
/** A node id: what --node-id, SMART_CRON_NODE_ID and node.id accept, and a job's pinned_node (it names the node's rows and its runs). */
export const NODE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$';
export const NODE_ID = "letters, digits, '.', '_' or '-', up to 128, starting with a letter or digit";
