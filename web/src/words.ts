/**
 * The CLI's word splitting (quotes and backslashes, nothing expanded), shared so the form and
 * `--command` always give the same argv. Its errors name the field ("command: unterminated …").
 */
export { splitWords } from '../../src/jobs/command-line.js';
