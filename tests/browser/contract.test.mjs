// The npm package's public types (crates/web/js/index.d.ts) against the
// answer contract (docs/answer.schema.json): each interface carries exactly
// the camelCased properties of its schema definition, required where the
// schema requires them, so the two cannot drift. Needs no build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { camelKeys } from '../../crates/web/js/answer.js';
import { schemaProperties } from '../answer-schema.mjs';

const dts = readFileSync(new URL('../../crates/web/js/index.d.ts', import.meta.url), 'utf8');

/** `{ name: optional }` of the top-level members of `export interface <name>`. */
function interfaceMembers(name) {
  const text = dts.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const start = text.search(new RegExp(`export interface ${name}\\s*\\{`));
  assert.ok(start >= 0, `index.d.ts has no interface ${name}`);
  const members = {};
  let depth = 0;
  for (let i = text.indexOf('{', start); i < text.length; i++) {
    const c = text[i];
    if (c === '{') depth++;
    else if (c === '}' && --depth === 0) break;
    else if (depth === 1) {
      const m = /^(\w+)(\??)\s*:/.exec(text.slice(i));
      if (m && /[{;\s]/.test(text[i - 1])) {
        members[m[1]] = m[2] === '?';
        i += m[0].length - 1;
      }
    }
  }
  return members;
}

const camel = (k) => Object.keys(camelKeys({ [k]: 0 }))[0];

for (const [iface, def] of [
  ['Prediction', 'Prediction'],
  ['ModelInfo', 'ModelInfo'],
  ['Timings', 'PackageTimings'],
  ['Classification', 'PackageClassification'],
]) {
  test(`index.d.ts ${iface} is docs/answer.schema.json ${def}, camelCased`, () => {
    const { names, required } = schemaProperties(def);
    const members = interfaceMembers(iface);
    assert.deepEqual(Object.keys(members).sort(), names.map(camel).sort());
    for (const name of required) assert.equal(members[camel(name)], false, `${iface}.${camel(name)} must not be optional`);
  });
}

test('camelKeys renames keys at every depth and leaves values alone', () => {
  assert.deepEqual(camelKeys({ class_id: 'n01', predictions: [{ class_name: 'a_b' }], error: { code: 'not_an_image' } }), {
    classId: 'n01', predictions: [{ className: 'a_b' }], error: { code: 'not_an_image' },
  });
  const bytes = new Uint8Array(2);
  assert.equal(camelKeys({ pixel_data: bytes }).pixelData, bytes);
});
