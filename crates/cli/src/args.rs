//! A small argument parser: `--flag value`, `--switch`, positionals.

use std::collections::HashMap;

pub struct Args {
    values: HashMap<String, String>,
    switches: Vec<String>,
    pub positional: Vec<String>,
}

impl Args {
    /// `switches` are the flags that take no value.
    pub fn parse(raw: impl Iterator<Item = String>, switches: &[&str]) -> Result<Args, String> {
        let mut args = Args { values: HashMap::new(), switches: Vec::new(), positional: Vec::new() };
        let mut raw = raw.peekable();
        while let Some(a) = raw.next() {
            if let Some(name) = a.strip_prefix("--") {
                if switches.contains(&name) {
                    args.switches.push(name.to_string());
                } else {
                    let v = raw.next().ok_or_else(|| format!("--{name} needs a value"))?;
                    args.values.insert(name.to_string(), v);
                }
            } else {
                args.positional.push(a);
            }
        }
        Ok(args)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn has(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    pub fn parsed<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name}: invalid value {v:?}")),
        }
    }

    /// Fail on flags the command does not know, so typos are not ignored.
    pub fn only(&self, known: &[&str]) -> Result<(), String> {
        for k in self.values.keys().chain(self.switches.iter()) {
            if !known.contains(&k.as_str()) {
                return Err(format!("unknown option --{k}"));
            }
        }
        Ok(())
    }
}
