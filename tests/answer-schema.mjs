// Checks values against the definitions of docs/answer.schema.json with Ajv
// (its draft 2020-12 build, as the schema declares). The Rust twin is
// crates/cli/tests/schema.rs, which checks the same file with the jsonschema
// crate.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';

const root = JSON.parse(readFileSync(new URL('../docs/answer.schema.json', import.meta.url), 'utf8'));

// allErrors: a failing test lists every mismatch, not only the first.
const ajv = new Ajv2020({ allErrors: true });
ajv.addSchema(root, 'answer');

function resolve(schema) {
  while (schema && schema.$ref) {
    const name = schema.$ref.replace('#/$defs/', '');
    schema = root.$defs[name];
    if (!schema) throw new Error(`no such definition ${name}`);
  }
  return schema;
}

/** Errors of `value` against `$defs/<def>`; [] when it conforms. */
export function schemaErrors(def, value) {
  if (!root.$defs[def]) throw new Error(`no such definition ${def}`);
  const validate = ajv.getSchema(`answer#/$defs/${def}`);
  if (validate(value)) return [];
  return validate.errors.map((e) => `${def}${e.instancePath}: ${e.message} (${e.schemaPath}${e.params ? ` ${JSON.stringify(e.params)}` : ''})`);
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
