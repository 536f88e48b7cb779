//! `--key value` arguments (a key may repeat: `--define a=1 --define b=2`).

use std::collections::HashMap;
use std::str::FromStr;

use anyhow::{Context as _, anyhow, bail};

/// Parsed `--key value` pairs.
#[derive(Debug, Default)]
pub struct Args {
    values: HashMap<String, Vec<String>>,
}

impl Args {
    /// Every argument must be `--key value`.
    pub fn parse(argv: &[String]) -> anyhow::Result<Args> {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        let mut iter = argv.iter();
        while let Some(arg) = iter.next() {
            let Some(key) = arg.strip_prefix("--") else {
                bail!("expected --key, got {arg:?}");
            };
            let value = iter
                .next()
                .ok_or_else(|| anyhow!("--{key} needs a value"))?;
            values
                .entry(key.to_owned())
                .or_default()
                .push(value.clone());
        }
        Ok(Args { values })
    }

    /// The last value given for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// Every value given for `key`, in order.
    pub fn all(&self, key: &str) -> &[String] {
        self.values.get(key).map_or(&[], Vec::as_slice)
    }

    pub fn required(&self, key: &str) -> anyhow::Result<&str> {
        self.get(key).ok_or_else(|| anyhow!("--{key} is required"))
    }

    /// `key` parsed, or `default` when absent.
    pub fn number<T>(&self, key: &str, default: T) -> anyhow::Result<T>
    where
        T: FromStr,
        T::Err: std::error::Error + Send + Sync + 'static,
    {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.parse().with_context(|| format!("--{key} {v:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn pairs_repeat_and_parse() {
        let args = Args::parse(&argv(&[
            "--define",
            "a=1",
            "--define",
            "b=2",
            "--clients",
            "16",
        ]))
        .unwrap();
        assert_eq!(args.all("define"), ["a=1", "b=2"]);
        assert_eq!(args.number("clients", 0u32).unwrap(), 16);
        assert_eq!(args.number("absent", 7u32).unwrap(), 7);
        assert!(args.required("absent").is_err());
    }

    #[test]
    fn a_key_without_value_or_a_bare_word_is_refused() {
        assert!(Args::parse(&argv(&["--clients"])).is_err());
        assert!(Args::parse(&argv(&["clients", "1"])).is_err());
    }
}
