//! `--config fmprep.toml`: option values from a file, as the flags' defaults.
//!
//! Keys are the long flag names (`seed`, `min-customer-ratings` or `min_customer_ratings`, ...),
//! at the top level or in a table named after the subcommand (`[run]`, `[preprocess]`,
//! `[prepare]`), which wins over the top level. A variable already set in the environment is left
//! alone, and a flag on the command line overrides both, so precedence is: flag > environment >
//! config file > built-in default.

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::CommandFactory;

use super::Cli;

/// The command line's parser with the values of `--config PATH` (or `--config=PATH`, or
/// `FMPREP_CONFIG`) in `args` as the flags' defaults: clap then applies flag > environment >
/// config file > built-in default itself, and nothing is written to the process environment.
/// Errors are one-line messages (exit code 2).
pub fn command(args: &[OsString]) -> Result<clap::Command, String> {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut cmd = Cli::command();
    let mut path = std::env::var("FMPREP_CONFIG").ok();
    let mut subcommand = None;
    let names: Vec<String> = cmd.get_subcommands().map(|c| c.get_name().to_string()).collect();
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a == "--config" {
            path = args.get(i + 1).cloned();
            i += 1;
        } else if let Some(p) = a.strip_prefix("--config=") {
            path = Some(p.to_string());
        } else if subcommand.is_none() && names.contains(a) {
            subcommand = Some(a.clone());
        }
        i += 1;
    }
    let Some(path) = path else { return Ok(cmd) };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read config file {path}: {e}"))?;
    let values = env_values(&text, subcommand.as_deref()).map_err(|e| format!("config file {path}: {e}"))?;
    // Each value becomes the default of the argument that reads its variable, on the root
    // (global flags) and on the subcommand given.
    cmd = with_defaults(cmd, &values);
    if let Some(sub) = &subcommand {
        cmd = cmd.mut_subcommand(sub, |c| with_defaults(c, &values));
    }
    Ok(cmd)
}

/// `c` with `values` (by `FMPREP_*` variable) as the defaults of the arguments that read them.
fn with_defaults(mut c: clap::Command, values: &BTreeMap<String, String>) -> clap::Command {
    let ids: Vec<(String, String)> = c
        .get_arguments()
        .filter_map(|a| {
            Some((
                a.get_id().to_string(),
                a.get_env()?.to_string_lossy().into_owned(),
            ))
        })
        .collect();
    for (id, var) in ids {
        if let Some(v) = values.get(&var) {
            c = c.mut_arg(id, |a| a.default_value(v.clone()));
        }
    }
    c
}

/// The `FMPREP_*` variables a config text sets for `subcommand`.
pub fn env_values(text: &str, subcommand: Option<&str>) -> Result<BTreeMap<String, String>, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    let known: Vec<String> = known_vars();
    let mut out = BTreeMap::new();
    let apply = |key: &str, value: &toml::Value, out: &mut BTreeMap<String, String>| -> Result<(), String> {
        let var = format!("FMPREP_{}", key.to_uppercase().replace('-', "_"));
        if !known.contains(&var) {
            return Err(format!(
                "unknown option {key:?}; keys are the long flag names, e.g. seed, min-product-ratings"
            ));
        }
        let v = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => return Err(format!("option {key:?}: unsupported value {}", other.type_str())),
        };
        out.insert(var, v);
        Ok(())
    };
    for (k, v) in &table {
        if !v.is_table() {
            apply(k, v, &mut out)?;
        }
    }
    if let Some(toml::Value::Table(t)) = subcommand.and_then(|s| table.get(s)) {
        for (k, v) in t {
            apply(k, v, &mut out)?;
        }
    }
    Ok(out)
}

/// Every `FMPREP_*` variable some flag reads.
fn known_vars() -> Vec<String> {
    let cmd = Cli::command();
    let mut vars = Vec::new();
    let mut collect = |c: &clap::Command| {
        for a in c.get_arguments() {
            if let Some(e) = a.get_env() {
                vars.push(e.to_string_lossy().into_owned());
            }
        }
    };
    collect(&cmd);
    for sub in cmd.get_subcommands() {
        collect(sub);
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommand_table_wins_and_names_normalise() {
        let text = "seed = 7\nmin_customer_ratings = 3\n[run]\nseed = 9\noverwrite = true\n";
        let run = env_values(text, Some("run")).unwrap();
        assert_eq!(run["FMPREP_SEED"], "9");
        assert_eq!(run["FMPREP_MIN_CUSTOMER_RATINGS"], "3");
        assert_eq!(run["FMPREP_OVERWRITE"], "true");
        assert_eq!(env_values(text, Some("prepare")).unwrap()["FMPREP_SEED"], "7");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(env_values("sed = 1", None)
            .unwrap_err()
            .contains("unknown option \"sed\""));
    }
}
