/**
 * The few coded errors smart-cron raises, and the one place that maps them to
 * CLI exit codes and HTTP statuses. Every message names the field (or thing)
 * that is wrong and what was expected.
 */
export type ErrorCode = 'CONFIG' | 'VALIDATION' | 'NOT_FOUND' | 'CONFLICT' | 'UNAUTHORIZED' | 'UNAVAILABLE' | 'FAILURE';

export class SmartCronError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The field, flag or path the message is about, when there is one. */
    readonly field?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ConfigError extends SmartCronError {
  constructor(message: string, field?: string) {
    super('CONFIG', message, field);
  }
}
export class ValidationError extends SmartCronError {
  constructor(message: string, field?: string) {
    super('VALIDATION', message, field);
  }
}
export class NotFoundError extends SmartCronError {
  constructor(message: string, field?: string) {
    super('NOT_FOUND', message, field);
  }
}
export class ConflictError extends SmartCronError {
  constructor(message: string, field?: string) {
    super('CONFLICT', message, field);
  }
}
export class UnauthorizedError extends SmartCronError {
  constructor(message = 'missing or invalid API token') {
    super('UNAUTHORIZED', message);
  }
}

/**
 * The database could not be reached or refused the connection (server down, bad role or
 * password): nothing the command was given is wrong, and the same command may work later.
 */
export class UnavailableError extends SmartCronError {
  constructor(message: string, field?: string) {
    super('UNAVAILABLE', message, field);
  }
}

/** CLI exit codes: 0 ok, 1 failure, 2 bad usage or input, 3 the database is unavailable. */
export function exitCodeFor(err: unknown): 1 | 2 | 3 {
  if (err instanceof SmartCronError) {
    if (err.code === 'UNAVAILABLE') return 3;
    return err.code === 'FAILURE' ? 1 : err.code === 'UNAUTHORIZED' ? 1 : 2;
  }
  return 1;
}

export function httpStatusFor(err: unknown): number {
  if (!(err instanceof SmartCronError)) return 500;
  switch (err.code) {
    case 'CONFIG':
    case 'VALIDATION':
      return 400;
    case 'UNAUTHORIZED':
      return 401;
    case 'NOT_FOUND':
      return 404;
    case 'CONFLICT':
      return 409;
    case 'UNAVAILABLE':
      return 503;
    default:
      return 500;
  }
}
