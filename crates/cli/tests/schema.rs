//! Checks values against the definitions of `docs/answer.schema.json` with
//! the jsonschema crate (draft 2020-12, as the schema declares). The JS twin
//! is tests/answer-schema.mjs, which checks the same file with Ajv.

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
        assert!(self.root["$defs"].get(def).is_some(), "no such definition {def}");
        // The whole document with its root pointing at one definition, so
        // that the `$ref`s between definitions resolve inside it.
        let mut schema = self.root.clone();
        let top = schema.as_object_mut().expect("the schema is an object");
        top.remove("oneOf");
        top.insert("$ref".into(), Value::String(format!("#/$defs/{def}")));
        let validator = jsonschema::draft202012::new(&schema).unwrap_or_else(|e| panic!("the schema is invalid: {e}"));
        let mut errors = Vec::new();
        for e in validator.iter_errors(value) {
            describe(&e, def, "", &mut errors);
        }
        errors
    }
}

/// One line per error (values masked: the caller prints the whole value),
/// and under a failed `oneOf` what failed in each alternative, since that
/// is where a wrong field inside an answer shows.
fn describe(e: &jsonschema::ValidationError, def: &str, indent: &str, out: &mut Vec<String>) {
    out.push(format!("{indent}{def}{}: {} (at {})", e.instance_path(), e.masked(), e.schema_path()));
    if let jsonschema::error::ValidationErrorKind::OneOfNotValid { context } = e.kind() {
        for (i, alternative) in context.iter().enumerate() {
            for sub in alternative {
                describe(sub, def, &format!("{indent}  oneOf[{i}]: "), out);
            }
        }
    }
}
