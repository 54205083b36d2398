//! The AWS shared files (`~/.aws/config`, `~/.aws/credentials`) and the process environment,
//! read the way the AWS CLI reads them.
//!
//! - `config` names profiles `[profile NAME]` (and `[default]`); `credentials` names them
//!   `[NAME]`. Other `config` sections (`[sso-session ..]`, `[services ..]`) are not profiles.
//! - A profile's settings are the `config` section with the `credentials` section laid over it.
//! - Keys are case-insensitive, values trimmed; whole-line comments start with `#` or `;`;
//!   indented lines continue a nested block (`s3 =` followed by `  key = value`), which reglogin
//!   keeps out of the top-level settings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::AwsError;

/// A snapshot of the environment variables reglogin reads; unit tests build their own.
#[derive(Clone, Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(key, value)| {
                    Some((key.into_string().ok()?, value.into_string().ok()?))
                })
                .collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
        }
    }

    /// The variable's value when it is set and not empty (as botocore treats an empty one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    pub fn home(&self) -> PathBuf {
        match self.get("HOME") {
            Some(home) => PathBuf::from(home),
            None => crate::config::home_dir(),
        }
    }

    /// `~` and `~/...` expanded against HOME, as the AWS CLI does for its file settings.
    pub fn expand_user(&self, path: &str) -> PathBuf {
        if path == "~" {
            self.home()
        } else if let Some(rest) = path.strip_prefix("~/") {
            self.home().join(rest)
        } else {
            PathBuf::from(path)
        }
    }
}

pub type Section = HashMap<String, String>;

/// Parses an AWS-style ini file into sections, in no particular order. A repeated section adds
/// to the earlier one; a repeated key replaces the earlier value.
pub fn parse_ini(text: &str) -> HashMap<String, Section> {
    let mut sections: HashMap<String, Section> = HashMap::new();
    let mut current: Option<String> = None;
    for raw_line in text.lines() {
        let line = raw_line.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // A continuation: part of a nested block (`s3 =`) or of a multi-line value, never
            // a top-level key of its own.
            continue;
        }
        if let Some(name) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            let name = name.trim().to_owned();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some(section) = current.as_ref() else {
            continue;
        };
        let Some(split_at) = trimmed.find(['=', ':']) else {
            continue;
        };
        let key = trimmed[..split_at].trim().to_ascii_lowercase();
        let value = trimmed[split_at + 1..].trim().to_owned();
        if value.is_empty() || key.is_empty() {
            continue;
        }
        if let Some(section) = sections.get_mut(section) {
            section.insert(key, value);
        }
    }
    sections
}

/// The profiles of the two shared files.
#[derive(Debug, Default)]
pub struct Profiles {
    pub config_path: PathBuf,
    pub credentials_path: PathBuf,
    config: HashMap<String, Section>,
    credentials: HashMap<String, Section>,
}

/// One profile: its `config` settings and its `credentials` settings.
#[derive(Clone, Copy, Debug)]
pub struct Profile<'a> {
    pub name: &'a str,
    pub config: Option<&'a Section>,
    pub credentials: Option<&'a Section>,
}

impl<'a> Profile<'a> {
    /// The setting as the AWS CLI sees it: the credentials file wins over the config file.
    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.from_credentials_file(key)
            .or_else(|| self.from_config_file(key))
    }

    pub fn from_credentials_file(&self, key: &str) -> Option<&'a str> {
        self.credentials
            .and_then(|section| section.get(key))
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    pub fn from_config_file(&self, key: &str) -> Option<&'a str> {
        self.config
            .and_then(|section| section.get(key))
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }
}

fn read_optional(path: &Path) -> Result<String, AwsError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(err) => Err(AwsError::File {
            path: path.to_path_buf(),
            detail: err.to_string(),
        }),
    }
}

impl Profiles {
    /// Reads the files that `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE` name (default
    /// `~/.aws/config`, `~/.aws/credentials`). Missing files are empty.
    pub fn load(env: &Env) -> Result<Profiles, AwsError> {
        let config_path = env
            .get("AWS_CONFIG_FILE")
            .map(|path| env.expand_user(path))
            .unwrap_or_else(|| env.home().join(".aws").join("config"));
        let credentials_path = env
            .get("AWS_SHARED_CREDENTIALS_FILE")
            .map(|path| env.expand_user(path))
            .unwrap_or_else(|| env.home().join(".aws").join("credentials"));
        let config_text = read_optional(&config_path)?;
        let credentials_text = read_optional(&credentials_path)?;
        Ok(Profiles::from_texts(
            config_path,
            &config_text,
            credentials_path,
            &credentials_text,
        ))
    }

    pub fn from_texts(
        config_path: PathBuf,
        config_text: &str,
        credentials_path: PathBuf,
        credentials_text: &str,
    ) -> Profiles {
        let mut config = HashMap::new();
        let mut plain_default = None;
        for (name, section) in parse_ini(config_text) {
            if name == "default" {
                plain_default = Some(section);
                continue;
            }
            let mut words = name.splitn(2, char::is_whitespace);
            if words.next() == Some("profile")
                && let Some(profile) = words.next().map(str::trim).filter(|p| !p.is_empty())
            {
                config.insert(profile.to_owned(), section);
            }
        }
        // `[profile default]` wins over `[default]` when a file has both.
        if let Some(section) = plain_default {
            config.entry("default".to_owned()).or_insert(section);
        }
        Profiles {
            config_path,
            credentials_path,
            config,
            credentials: parse_ini(credentials_text),
        }
    }

    pub fn get(&self, name: &str) -> Option<Profile<'_>> {
        let (name_in_config, config) = match self.config.get_key_value(name) {
            Some((key, section)) => (Some(key.as_str()), Some(section)),
            None => (None, None),
        };
        let (name_in_credentials, credentials) = match self.credentials.get_key_value(name) {
            Some((key, section)) => (Some(key.as_str()), Some(section)),
            None => (None, None),
        };
        let name = name_in_config.or(name_in_credentials)?;
        Some(Profile {
            name,
            config,
            credentials,
        })
    }

    /// Where the files are, for messages.
    pub fn describe_files(&self) -> String {
        format!(
            "{} and {}",
            self.credentials_path.display(),
            self.config_path.display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# a comment
[default]
region = us-east-1
output=json

[profile dev]
region = eu-west-1
credential_process = /usr/bin/true
s3 =
  max_concurrent_requests = 20
  region = nowhere
role_arn: arn:aws:iam::123456789012:role/dev

[profile  spaced ]
region = ap-south-1

[sso-session corp]
sso_region = us-east-1

[nonprofile]
region = xx-none-1
";

    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secretdefault
; semicolon comment
[dev]
AWS_ACCESS_KEY_ID = AKIDDEV
aws_secret_access_key=secretdev
region = us-west-2
[profile odd]
aws_access_key_id = AKIDODD\r
";

    fn profiles() -> Profiles {
        Profiles::from_texts("c".into(), CONFIG, "k".into(), CREDENTIALS)
    }

    #[test]
    fn config_profiles_need_the_prefix_and_credentials_profiles_do_not() {
        let profiles = profiles();
        let default = profiles.get("default").unwrap();
        assert_eq!(default.get("region"), Some("us-east-1"));
        assert_eq!(default.get("aws_access_key_id"), Some("AKIDDEFAULT"));
        assert_eq!(
            profiles.get("spaced").unwrap().get("region"),
            Some("ap-south-1")
        );
        assert!(profiles.get("nonprofile").is_none());
        assert!(profiles.get("corp").is_none());
        // In the credentials file `[profile odd]` is literally a profile named "profile odd".
        assert!(profiles.get("odd").is_none());
        assert_eq!(
            profiles
                .get("profile odd")
                .unwrap()
                .get("aws_access_key_id"),
            Some("AKIDODD")
        );
    }

    #[test]
    fn credentials_file_wins_and_keys_are_case_insensitive() {
        let profiles = profiles();
        let dev = profiles.get("dev").unwrap();
        assert_eq!(dev.get("aws_access_key_id"), Some("AKIDDEV"));
        assert_eq!(dev.get("region"), Some("us-west-2"));
        assert_eq!(dev.from_config_file("region"), Some("eu-west-1"));
        assert_eq!(dev.get("credential_process"), Some("/usr/bin/true"));
        assert_eq!(
            dev.get("role_arn"),
            Some("arn:aws:iam::123456789012:role/dev")
        );
        // Nested blocks stay out of the top level.
        assert_eq!(dev.get("max_concurrent_requests"), None);
        assert_eq!(dev.get("s3"), None);
    }

    #[test]
    fn profile_default_beats_plain_default() {
        let config = "[profile default]\nregion = a\n[default]\nregion = b\n";
        let profiles = Profiles::from_texts("c".into(), config, "k".into(), "");
        assert_eq!(profiles.get("default").unwrap().get("region"), Some("a"));
        let config = "[default]\nregion = b\n";
        let profiles = Profiles::from_texts("c".into(), config, "k".into(), "");
        assert_eq!(profiles.get("default").unwrap().get("region"), Some("b"));
    }

    #[test]
    fn env_ignores_empty_values_and_expands_home() {
        let env = Env::from_pairs([("HOME", "/h"), ("EMPTY", ""), ("AWS_PROFILE", "x")]);
        assert_eq!(env.get("EMPTY"), None);
        assert_eq!(env.get("AWS_PROFILE"), Some("x"));
        assert_eq!(env.expand_user("~/a/b"), PathBuf::from("/h/a/b"));
        assert_eq!(env.expand_user("/abs"), PathBuf::from("/abs"));
    }
}
