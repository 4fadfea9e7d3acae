//! A JSON Schema checker for the subset `docs/answer.schema.json` uses
//! (type, enum, required, properties, additionalProperties, items,
//! minItems, minimum, maximum, $ref into $defs, oneOf, allOf), so the CLI's
//! output is checked against the documented contract without a schema crate.

use serde_json::Value;

pub struct Schema {
    root: Value,
}

impl Schema {
    pub fn load() -> Schema {
        // Read at run time: a test binary reused from another checkout
        // (the target dir is shared) must not read that checkout's files.
        let dir = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo"));
        let path = dir.join("../../docs/answer.schema.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Schema { root: serde_json::from_str(&text).expect("the schema is JSON") }
    }

    /// Errors of `value` against `$defs/<def>`; empty when it conforms.
    pub fn check(&self, def: &str, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check_at(&self.root["$defs"][def], value, def, &mut errors);
        errors
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("unsupported $ref {r}"));
                self.resolve(&self.root["$defs"][name])
            }
            None => schema,
        }
    }

    fn check_at(&self, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
        let s = self.resolve(schema);
        assert!(!s.is_null(), "{at}: no such schema");
        if let Some(t) = s.get("type").and_then(Value::as_str) {
            let ok = match t {
                "object" => v.is_object(),
                "array" => v.is_array(),
                "string" => v.is_string(),
                "number" => v.is_number(),
                "integer" => v.is_u64() || v.is_i64(),
                "boolean" => v.is_boolean(),
                "null" => v.is_null(),
                other => panic!("unsupported type {other}"),
            };
            if !ok {
                errors.push(format!("{at}: expected {t}, got {v}"));
                return;
            }
        }
        if let Some(options) = s.get("enum").and_then(Value::as_array) {
            if !options.contains(v) {
                errors.push(format!("{at}: {v} is not one of {options:?}"));
            }
        }
        if let (Some(min), Some(x)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
            if x < min {
                errors.push(format!("{at}: {x} < {min}"));
            }
        }
        if let (Some(max), Some(x)) = (s.get("maximum").and_then(Value::as_f64), v.as_f64()) {
            if x > max {
                errors.push(format!("{at}: {x} > {max}"));
            }
        }
        if let Some(obj) = v.as_object() {
            for key in s.get("required").and_then(Value::as_array).into_iter().flatten() {
                if !obj.contains_key(key.as_str().unwrap()) {
                    errors.push(format!("{at}: missing {key}"));
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            for (k, child) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => self.check_at(ps, child, &format!("{at}.{k}"), errors),
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => errors.push(format!("{at}: unexpected field {k}")),
                        Some(extra @ Value::Object(_)) => self.check_at(extra, child, &format!("{at}.{k}"), errors),
                        _ => {}
                    },
                }
            }
        }
        if let Some(items) = v.as_array() {
            if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    errors.push(format!("{at}: fewer than {min} items"));
                }
            }
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    self.check_at(item_schema, item, &format!("{at}[{i}]"), errors);
                }
            }
        }
        for sub in s.get("allOf").and_then(Value::as_array).into_iter().flatten() {
            self.check_at(sub, v, at, errors);
        }
        if let Some(options) = s.get("oneOf").and_then(Value::as_array) {
            let passing = options
                .iter()
                .filter(|o| {
                    let mut e = Vec::new();
                    self.check_at(o, v, at, &mut e);
                    e.is_empty()
                })
                .count();
            if passing != 1 {
                errors.push(format!("{at}: matches {passing} of the oneOf alternatives, not exactly 1"));
            }
        }
    }
}
