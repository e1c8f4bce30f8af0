//! The S3 settings of the AWS config file that the AWS CLI and boto3 honour and the Rust SDK does
//! not: `ca_bundle` and the nested `s3 = addressing_style = virtual|path|auto` of the selected
//! profile (`AWS_PROFILE`, else `default`) in `AWS_CONFIG_FILE` (else `~/.aws/config`).
//!
//! ```ini
//! [profile minio]
//! ca_bundle = /etc/ssl/corp-ca.pem
//! s3 =
//!   addressing_style = path
//! ```

use std::path::PathBuf;

/// How buckets are addressed: `bucket.host/key` (virtual-hosted) or `host/bucket/key` (path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressingStyle {
    /// Path style for a custom endpoint, virtual-hosted for AWS (what boto3 does).
    Auto,
    /// Always `host/bucket/key`.
    Path,
    /// Always `bucket.host/key`.
    Virtual,
}

/// The settings read from the profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileSettings {
    /// The profile's `s3.addressing_style`.
    pub addressing_style: Option<AddressingStyle>,
    /// The profile's `ca_bundle`: a PEM file of extra trusted CA certificates.
    pub ca_bundle: Option<PathBuf>,
    /// Where they came from, for messages (`~/.aws/config [profile x]`).
    pub origin: String,
}

/// Read the selected profile of the AWS config file; nothing when there is no file or profile.
pub fn load() -> ProfileSettings {
    let path = match std::env::var_os("AWS_CONFIG_FILE").filter(|v| !v.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => match std::env::var_os("HOME") {
            Some(h) => PathBuf::from(h).join(".aws/config"),
            None => return ProfileSettings::default(),
        },
    };
    let profile = std::env::var("AWS_PROFILE")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "default".to_string());
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut s = parse(&text, &profile);
            s.origin = format!("{} [{profile}]", path.display());
            s
        }
        Err(_) => ProfileSettings::default(),
    }
}

/// The settings of `profile` in the config-file `text`. Sections are `[default]`,
/// `[profile name]` (and `[name]`, as the SDKs accept it); a key with an empty value starts a
/// nested block of indented `key = value` lines.
pub fn parse(text: &str, profile: &str) -> ProfileSettings {
    let mut out = ProfileSettings::default();
    let mut in_profile = false;
    let mut nested: Option<String> = None;
    for raw in text.lines() {
        let line = raw.split([';', '#']).next().unwrap_or("");
        if line.trim().is_empty() {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim();
            let name = name.strip_prefix("profile ").map_or(name, str::trim);
            in_profile = name == profile;
            nested = None;
            continue;
        }
        if !in_profile {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
        if indented {
            if nested.as_deref() == Some("s3") && key == "addressing_style" {
                out.addressing_style = match value.to_ascii_lowercase().as_str() {
                    "path" => Some(AddressingStyle::Path),
                    "virtual" => Some(AddressingStyle::Virtual),
                    "auto" => Some(AddressingStyle::Auto),
                    _ => out.addressing_style,
                };
            }
            continue;
        }
        nested = value.is_empty().then(|| key.clone());
        if key == "ca_bundle" && !value.is_empty() {
            out.ca_bundle = Some(PathBuf::from(value));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
[default]
region = eu-west-1
s3 =
  addressing_style = virtual
[profile minio]
ca_bundle = /etc/ssl/corp.pem   ; the company CA
s3 =
    max_concurrent_requests = 20
    addressing_style = path
region = us-east-1
  addressing_style = virtual
[other]
s3 =
  addressing_style = auto
";

    #[test]
    fn nested_s3_settings_and_ca_bundle_of_the_selected_profile() {
        let minio = parse(CONFIG, "minio");
        assert_eq!(minio.addressing_style, Some(AddressingStyle::Path));
        assert_eq!(minio.ca_bundle, Some(PathBuf::from("/etc/ssl/corp.pem")));
        let default = parse(CONFIG, "default");
        assert_eq!(default.addressing_style, Some(AddressingStyle::Virtual));
        assert_eq!(default.ca_bundle, None);
        assert_eq!(
            parse(CONFIG, "other").addressing_style,
            Some(AddressingStyle::Auto)
        );
        assert_eq!(parse(CONFIG, "missing"), ProfileSettings::default());
    }
}
