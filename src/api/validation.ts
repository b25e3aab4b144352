/**
 * Request validation with TypeBox's compiler, reporting the first problem as a
 * ValidationError that names the field (from the instancePath) and what was expected,
 * so a bad query, path or body gets the same 400 shape as every other error.
 */
import type { FastifySchemaCompiler } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import Value from 'typebox/value';
import { closest, explainErrors, pointerToField } from '../config/explain.js';
import { ValidationError } from '../errors.js';

const PART: Record<string, string> = { body: 'body', querystring: 'query parameter', params: 'path parameter', headers: 'header' };
/** Values of these fields are never echoed back, right or wrong. */
const SECRET = /token|password|secret/i;

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
}

export function describeProblem(schema: TSchema, value: unknown, errors: SchemaError[], httpPart: string): ValidationError {
  const part = PART[httpPart] ?? httpPart;
  const missing = errors.find((e) => e.keyword === 'required');
  if (missing) {
    const props = (missing.params.requiredProperties ?? missing.params.missingProperty ?? []) as string[] | string;
    const name = Array.isArray(props) ? props[0] : props;
    const field = [pointerToField(missing.instancePath), name].filter(Boolean).join('.');
    return new ValidationError(`${part} ${field}: missing (it is required)`, field);
  }
  const explained = explainErrors(schema, value);
  if (!explained || explained.field === '(top level)') {
    const got = value === null || value === undefined ? 'nothing' : Array.isArray(value) ? 'a list' : typeof value;
    return new ValidationError(`${part}: expected a JSON object, got ${got}`, httpPart === 'querystring' ? 'query' : httpPart);
  }
  if (SECRET.test(explained.field)) return new ValidationError(`${part} ${explained.field}: not valid (value not shown)`, explained.field);
  return new ValidationError(`${part} ${explained.message}`, explained.field);
}

interface PropSchema {
  type?: string;
}

function properties(schema: TSchema): Record<string, PropSchema> {
  const s = schema as { properties?: Record<string, PropSchema>; allOf?: TSchema[] };
  return Object.assign({}, s.properties, ...(s.allOf ?? []).map(properties));
}

/**
 * Query and path values arrive as text. Convert only text that is exactly a number or a
 * boolean (TypeBox's Convert would turn "1.5" into the integer 1 and "0x10" into 16); anything
 * else stays text and fails the check, naming the parameter.
 */
function convertText(props: Record<string, PropSchema>, input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const out: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const [k, v] of Object.entries(out)) {
    if (typeof v !== 'string') continue;
    const t = props[k]?.type;
    if (t === 'integer' && /^-?\d{1,16}$/.test(v)) out[k] = Number(v);
    else if (t === 'number' && /^-?\d{1,16}(\.\d{1,16})?$/.test(v)) out[k] = Number(v);
    else if (t === 'boolean' && /^(true|false|1|0)$/.test(v)) out[k] = v === 'true' || v === '1';
  }
  return out;
}

/**
 * Fastify asks for every route's validators when the server starts; each is compiled the first
 * time its route is called instead, so a daemon whose API is never (or seldom) used does not
 * hold generated code for some sixty schemas.
 */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  let check: ReturnType<typeof Compile<TSchema>> | undefined;
  const isBody = httpPart === 'body';
  const props = properties(schema);
  return (input: unknown) => {
    check ??= Compile(schema);
    let value = input;
    if (isBody) {
      // POST without a body: the same as an empty object, so optional-body routes need none.
      if (value === null || value === undefined) value = {};
    } else {
      value = Value.Default(schema, convertText(props, value));
    }
    if (check.Check(value)) return { value };
    return { error: describeProblem(schema, value, [...check.Errors(value)] as SchemaError[], httpPart ?? 'body') };
  };
};

/**
 * What a request says that its route does not take: a query parameter the route does not name
 * (`?helth=critical` would otherwise list every job), or a body on a route that takes none
 * (`{"note": …}` on an acknowledge would be dropped without a word). `{}` is no body: the
 * dashboard sends it on every POST. Schema validation never sees either (a route without a
 * query or body schema has no validator to call).
 */
export function undeclaredInput(schema: { querystring?: TSchema; body?: TSchema }, query: unknown, body: unknown): ValidationError | null {
  const allowed = schema.querystring ? Object.keys(properties(schema.querystring)) : [];
  for (const key of Object.keys((query ?? {}) as object)) {
    if (allowed.includes(key)) continue;
    const guess = closest(key, allowed);
    const hint = guess ? `did you mean ${guess}?` : allowed.length ? `expected one of: ${allowed.join(', ')}` : 'this endpoint takes no query parameters';
    return new ValidationError(`query parameter ${key}: unknown (${hint})`, key);
  }
  if (!schema.body && body !== undefined && body !== null) {
    const keys = typeof body === 'object' && !Array.isArray(body) ? Object.keys(body) : null;
    if (keys?.length === 0) return null;
    const got = keys ? `got ${keys.map((k) => JSON.stringify(k)).join(', ')}` : `got ${Array.isArray(body) ? 'a list' : typeof body}`;
    return new ValidationError(`body: this endpoint takes no body (${got}; send none, or {})`, 'body');
  }
  return null;
}
