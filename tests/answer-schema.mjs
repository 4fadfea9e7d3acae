// Checks a value against a definition of docs/answer.schema.json, for the
// subset that schema uses (type, enum, required, properties,
// additionalProperties, items, minItems, minimum, maximum, $ref into $defs,
// oneOf, allOf). The Rust twin is crates/cli/tests/schema.rs.
import { readFileSync } from 'node:fs';

const root = JSON.parse(readFileSync(new URL('../docs/answer.schema.json', import.meta.url), 'utf8'));

function resolve(schema) {
  while (schema && schema.$ref) {
    const name = schema.$ref.replace('#/$defs/', '');
    schema = root.$defs[name];
    if (!schema) throw new Error(`no such definition ${name}`);
  }
  return schema;
}

const isType = {
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
  array: Array.isArray,
  string: (v) => typeof v === 'string',
  number: (v) => typeof v === 'number',
  integer: Number.isInteger,
  boolean: (v) => typeof v === 'boolean',
  null: (v) => v === null,
};

function check(schema, v, at, errors) {
  const s = resolve(schema);
  if (s.type && !isType[s.type](v)) {
    errors.push(`${at}: expected ${s.type}, got ${JSON.stringify(v)}`);
    return;
  }
  if (s.enum && !s.enum.some((e) => e === v)) errors.push(`${at}: ${JSON.stringify(v)} is not one of ${s.enum}`);
  if (typeof v === 'number') {
    if (s.minimum !== undefined && v < s.minimum) errors.push(`${at}: ${v} < ${s.minimum}`);
    if (s.maximum !== undefined && v > s.maximum) errors.push(`${at}: ${v} > ${s.maximum}`);
  }
  if (isType.object(v)) {
    for (const k of s.required || []) if (!(k in v)) errors.push(`${at}: missing ${k}`);
    for (const [k, child] of Object.entries(v)) {
      const ps = s.properties && s.properties[k];
      if (ps) check(ps, child, `${at}.${k}`, errors);
      else if (s.additionalProperties === false) errors.push(`${at}: unexpected field ${k}`);
      else if (isType.object(s.additionalProperties)) check(s.additionalProperties, child, `${at}.${k}`, errors);
    }
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) errors.push(`${at}: fewer than ${s.minItems} items`);
    if (s.items) v.forEach((item, i) => check(s.items, item, `${at}[${i}]`, errors));
  }
  for (const sub of s.allOf || []) check(sub, v, at, errors);
  if (s.oneOf) {
    const passing = s.oneOf.filter((o) => {
      const e = [];
      check(o, v, at, e);
      return e.length === 0;
    }).length;
    if (passing !== 1) errors.push(`${at}: matches ${passing} of the oneOf alternatives, not exactly 1`);
  }
}

/** Errors of `value` against `$defs/<def>`; [] when it conforms. */
export function schemaErrors(def, value) {
  const errors = [];
  check(root.$defs[def], value, def, errors);
  return errors;
}

/** The property names of `$defs/<def>` (its own and its allOf's), and which are required. */
export function schemaProperties(def) {
  const names = new Set();
  const required = new Set();
  const walk = (schema) => {
    const s = resolve(schema);
    for (const k of Object.keys(s.properties || {})) names.add(k);
    for (const k of s.required || []) required.add(k);
    for (const sub of s.allOf || []) walk(sub);
  };
  walk(root.$defs[def]);
  return { names: [...names], required: [...required] };
}

/** A copy of a JSON-like value with every object key snake_cased (`classId` -> `class_id`): the npm package's answers as the schema names them. */
export function snakeKeys(value) {
  if (Array.isArray(value)) return value.map(snakeKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), snakeKeys(v)]));
}
