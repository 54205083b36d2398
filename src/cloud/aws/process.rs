//! `credential_process`: a program named in the profile that prints credentials as JSON
//! (`Version` 1). It runs without a shell, its command line split as a POSIX shell would split
//! it, with no secret on it; its stdout is read as the secret it is, and only its stderr ever
//! appears in a message.

use std::process::{Command, Stdio};

use serde::Deserialize;
use zeroize::Zeroize;

use super::AwsCredentials;
use crate::secret::Secret;

/// Splits a command line like Python's `shlex.split` (POSIX mode), which the AWS CLI uses.
pub fn split_command_line(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => return Err("a trailing backslash".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProcessOutput {
    version: Option<serde_json::Value>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    session_token: Option<String>,
    expiration: Option<String>,
}

impl Drop for ProcessOutput {
    fn drop(&mut self) {
        if let Some(secret) = self.secret_access_key.as_mut() {
            secret.zeroize();
        }
        if let Some(token) = self.session_token.as_mut() {
            token.zeroize();
        }
    }
}

/// Runs the command and reads its credentials. The error text is for
/// [`super::AwsError::CredentialProcess`].
pub fn run(command_line: &str, profile: &str) -> Result<AwsCredentials, String> {
    let argv = split_command_line(command_line)
        .map_err(|err| format!("cannot parse the command: {err}"))?;
    let Some((program, args)) = argv.split_first() else {
        return Err("the command is empty".into());
    };
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|err| format!("cannot run `{program}`: {err}"))?;
    let mut stdout = output.stdout;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if !output.status.success() {
        stdout.zeroize();
        let status = match output.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_owned(),
        };
        return Err(if stderr.is_empty() {
            format!("`{program}` failed ({status})")
        } else {
            format!("`{program}` failed ({status}): {stderr}")
        });
    }
    let parsed = serde_json::from_slice::<ProcessOutput>(&stdout);
    stdout.zeroize();
    // serde_json's error names a position, never the text, so it is safe to show.
    let parsed = parsed.map_err(|err| format!("its output is not the expected JSON ({err})"))?;
    parse_output(parsed, profile)
}

fn parse_output(mut parsed: ProcessOutput, profile: &str) -> Result<AwsCredentials, String> {
    match parsed.version.as_ref().and_then(serde_json::Value::as_i64) {
        Some(1) => {}
        Some(other) => {
            return Err(format!(
                "its output has Version {other}; only Version 1 is supported"
            ));
        }
        None => return Err("its output lacks \"Version\": 1".into()),
    }
    let access_key_id = parsed
        .access_key_id
        .take()
        .filter(|key| !key.is_empty())
        .ok_or("its output lacks AccessKeyId")?;
    let secret_access_key = parsed
        .secret_access_key
        .take()
        .filter(|key| !key.is_empty())
        .map(Secret::new)
        .ok_or("its output lacks SecretAccessKey")?;
    let expires_at = match parsed.expiration.take() {
        Some(text) => Some(
            super::time::parse_rfc3339(&text)
                .ok_or_else(|| format!("its Expiration `{text}` is not an RFC 3339 time"))?,
        ),
        None => None,
    };
    if let Some(at) = expires_at
        && at <= std::time::SystemTime::now()
    {
        return Err(format!(
            "it returned credentials that expired at {}",
            super::time::format_rfc3339(at)
        ));
    }
    Ok(AwsCredentials {
        access_key_id,
        secret_access_key,
        session_token: parsed
            .session_token
            .take()
            .filter(|t| !t.is_empty())
            .map(Secret::new),
        expires_at,
        source: format!("the credential_process of profile `{profile}`"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_shlex() {
        let cases: [(&str, &[&str]); 6] = [
            (
                "aws-vault exec dev --json",
                &["aws-vault", "exec", "dev", "--json"],
            ),
            (
                "  /bin/echo   'a b'  \"c d\" ",
                &["/bin/echo", "a b", "c d"],
            ),
            (
                r#"prog "say \"hi\"" it\'s"#,
                &["prog", "say \"hi\"", "it's"],
            ),
            (r#"prog "a\nb" 'c\d'"#, &["prog", "a\\nb", "c\\d"]),
            ("prog ''", &["prog", ""]),
            ("a'b'\"c\"d", &["abcd"]),
        ];
        for (line, want) in cases {
            assert_eq!(split_command_line(line).unwrap(), want, "{line}");
        }
        assert!(split_command_line("prog 'open").is_err());
        assert!(split_command_line("prog \"open").is_err());
    }

    fn sh(script: &str) -> String {
        format!("sh -c '{script}'")
    }

    #[test]
    fn reads_version_1_output() {
        let creds = run(
            &sh(r#"echo "{\"Version\": 1, \"AccessKeyId\": \"AKIDP\", \"SecretAccessKey\": \"sp\", \"SessionToken\": \"tp\", \"Expiration\": \"2999-01-01T00:00:00Z\"}""#),
            "dev",
        )
        .unwrap();
        assert_eq!(creds.access_key_id, "AKIDP");
        assert_eq!(creds.secret_access_key.expose(), "sp");
        assert_eq!(creds.session_token.unwrap().expose(), "tp");
        assert!(creds.expires_at.is_some());
        assert!(creds.source.contains("`dev`"));
    }

    #[test]
    fn failures_show_stderr_but_never_stdout() {
        let err = run(&sh("echo SECRETOUT; echo oops >&2; exit 3"), "p").unwrap_err();
        assert!(
            err.contains("exit status 3") && err.contains("oops"),
            "{err}"
        );
        assert!(!err.contains("SECRETOUT"), "{err}");
        let err = run(&sh("echo not-json-SECRET"), "p").unwrap_err();
        assert!(
            err.contains("not the expected JSON") && !err.contains("SECRET"),
            "{err}"
        );
        let err = run(&sh(r#"echo "{\"Version\": 2}""#), "p").unwrap_err();
        assert!(err.contains("Version 2"), "{err}");
        let err = run(
            &sh(r#"echo "{\"Version\": 1, \"AccessKeyId\": \"A\"}""#),
            "p",
        )
        .unwrap_err();
        assert!(err.contains("SecretAccessKey"), "{err}");
        let expired = r#"echo "{\"Version\": 1, \"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\", \"Expiration\": \"2001-01-01T00:00:00Z\"}""#;
        assert!(run(&sh(expired), "p").unwrap_err().contains("expired"));
        assert!(
            run("/nonexistent/program", "p")
                .unwrap_err()
                .contains("cannot run")
        );
    }
}
