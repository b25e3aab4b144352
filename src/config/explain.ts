/**
 * Turns TypeBox validation errors into one sentence naming the field, the value
 * and what was expected. Used for config.yaml, job files and CLI input alike.
 */
import type { TSchema } from 'typebox';
import Value from 'typebox/value';
import { redactUrl } from '../redact.js';

export interface Explained {
  field: string;
  message: string;
}

interface SchemaError {
  keyword: string;
  instancePath: string;
  /** Where in the schema the failing rule is (`#/properties/name`). */
  schemaPath?: string;
  params: object;
  message: string;
}

export function explainErrors(schema: TSchema, value: unknown): Explained | null {
  const errors = Value.Errors(schema, value) as SchemaError[];
  if (errors.length === 0) return null;
  const unknownKey = errors.find((e) => e.keyword === 'additionalProperties');
  if (unknownKey) {
    const parent = pointerToField(unknownKey.instancePath);
    const extra = (unknownKey.params as { additionalProperties: string[] }).additionalProperties;
    const field = [parent, extra[0]].filter(Boolean).join('.');
    // A map (env, node_selector): any key of the right form is welcome; this one is not of it.
    const map = atSchemaPath(schema, unknownKey.schemaPath) as { patternProperties?: Record<string, unknown>; 'x-keys'?: string } | undefined;
    if (map?.patternProperties) {
      const form = map['x-keys'] ?? `a key matching ${Object.keys(map.patternProperties).join(' or ')}`;
      return { field, message: `${parent}: ${JSON.stringify(extra[0])} is not a valid key (expected ${form})` };
    }
    const known = knownKeys(schema, unknownKey.instancePath);
    const guess = known && closest(extra[0]!, known);
    const hint = guess ? ` (did you mean "${guess}"?)` : known ? ` (expected one of: ${known.join(', ')})` : '';
    return { field, message: `unknown setting "${field}"${hint}` };
  }
  const leaf = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && e.keyword !== 'boolean');
  const list = leaf.length ? leaf : errors;
  const deepest = list.reduce((a, b) => (b.instancePath.length > a.instancePath.length ? b : a), list[0]!);
  const same = list.filter((e) => e.instancePath === deepest.instancePath);
  const field = pointerToField(deepest.instancePath);
  const found = lookup(value, deepest.instancePath);
  // A URL is shown without its password or token (an smtp_url or webhook URL that failed its pattern).
  const redacted = typeof found === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(found) ? redactUrl(found) : '';
  const got = describeValue(redacted.includes('***') ? redacted : found);
  const expectations = alternatives(same, schema);
  return { field: field || '(top level)', message: `${field || '(top level)'} = ${got}: expected ${expectations.join(' or ')}` };
}

/**
 * What the value should have been. Errors from one schema node are rules it must meet all
 * together ("and"); errors from different nodes are the alternatives of a union ("or"). A
 * number is described whole, its type and range in one phrase: "a whole number from 1 to 100".
 */
function alternatives(errors: SchemaError[], schema: TSchema): string[] {
  const byNode = new Map<string, SchemaError[]>();
  errors.forEach((e, i) => {
    const key = e.schemaPath ?? `?${i}`; // no path: nothing says they are one node's
    byNode.set(key, [...(byNode.get(key) ?? []), e]);
  });
  const out = [...byNode.entries()].map(([path, rules]) => {
    const node = atSchemaPath(schema, path) as NumberNode | undefined;
    if (node && 'const' in node) return JSON.stringify(node.const);
    if (node && (node.type === 'number' || node.type === 'integer')) return numberPhrase(node);
    return [...new Set(rules.map((e) => expectation(e, schema)))].join(' and ');
  });
  return [...new Set(out)];
}

interface NumberNode {
  type?: unknown;
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

function numberPhrase(n: NumberNode): string {
  const kind = n.type === 'integer' ? 'a whole number' : 'a number';
  if (n.minimum !== undefined && n.maximum !== undefined) return `${kind} from ${n.minimum} to ${n.maximum}`;
  const bounds = [
    n.minimum !== undefined && `>= ${n.minimum}`,
    n.exclusiveMinimum !== undefined && `> ${n.exclusiveMinimum}`,
    n.maximum !== undefined && `<= ${n.maximum}`,
    n.exclusiveMaximum !== undefined && `< ${n.exclusiveMaximum}`,
  ].filter(Boolean);
  return bounds.length ? `${kind} ${bounds.join(' and ')}` : kind;
}

function expectation(e: SchemaError, schema: TSchema): string {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'pattern': {
      // A pattern says what is wanted in words where the schema has them (its description).
      const described = (atSchemaPath(schema, e.schemaPath) as { description?: unknown } | undefined)?.description;
      return typeof described === 'string' ? described : `text matching ${String(p.pattern)}`;
    }
    case 'const':
      return JSON.stringify(p.allowedValue);
    case 'enum':
      return `one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'type':
      // A nullable setting's other choice: null is how a setting is unset (`jobs set X=null`).
      return p.type === 'null' ? 'null (not set)' : `a value of type ${String(p.type)}`;
    case 'required':
      return `the setting(s) ${JSON.stringify(p.requiredProperties ?? p)} to be present`;
    // TypeBox's own words ("must not have fewer than 1 items") do not follow "expected".
    case 'minItems':
    case 'maxItems':
    case 'minLength':
    case 'maxLength': {
      const n = Number(p.limit);
      const unit = e.keyword.endsWith('Items') ? 'item' : 'character';
      return `${e.keyword.startsWith('min') ? 'at least' : 'at most'} ${n} ${unit}${n === 1 ? '' : 's'}`;
    }
    default:
      return e.message.replace(/^must (be )?/, '');
  }
}

function knownKeys(schema: TSchema, pointer: string): string[] | undefined {
  let cur: unknown = schema;
  for (const p of pointer.split('/').filter(Boolean)) {
    cur = child(cur as Node, p);
    if (!cur) return undefined;
  }
  const props = (cur as Node).properties;
  return props ? Object.keys(props) : undefined;
}

type Node = { properties?: Record<string, unknown>; patternProperties?: Record<string, unknown>; items?: unknown };

/** The schema of one key of an object (a named property, or any key of a map such as `slots`) or one item of a list. */
function child(node: Node, key: string): unknown {
  if (node.properties?.[key]) return node.properties[key];
  if (node.patternProperties) return Object.values(node.patternProperties)[0];
  return /^\d+$/.test(key) && node.items && typeof node.items === 'object' ? node.items : undefined;
}

/** The schema node a JSON pointer of the form `#/properties/a/items` names (undefined when it names none). */
function atSchemaPath(schema: TSchema, schemaPath: string | undefined): unknown {
  if (!schemaPath?.startsWith('#')) return undefined;
  let cur: unknown = schema;
  for (const p of schemaPath.slice(1).split('/').filter(Boolean)) {
    if (!cur || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

/** The closest known name to a typo, when one is close enough to be what was meant. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

export function pointerToField(pointer: string): string {
  return pointer
    .split('/')
    .filter(Boolean)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function lookup(value: unknown, pointer: string): unknown {
  let cur: unknown = value;
  for (const p of pointer.split('/').filter(Boolean)) {
    if (cur && typeof cur === 'object') cur = (cur as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
    else return undefined;
  }
  return cur;
}

export function describeValue(v: unknown): string {
  if (v === undefined) return '(missing)';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (Array.isArray(v)) return v.length ? 'a list' : 'an empty list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}
