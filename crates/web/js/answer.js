// The shared crate's answers reach JS as serde writes them: snake_case, the
// field names of the HTTP API and docs/answer.schema.json. The package's API
// (index.d.ts) is camelCase. This one generic renaming joins the two, for
// what wasm returns and for the page's answers from POST /predict.

const camel = (key) => key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

/** A copy of a JSON-like value with every object key camelCased (`class_id` -> `classId`). */
export function camelKeys(value) {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), camelKeys(v)]));
}
