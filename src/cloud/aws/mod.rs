//! Just enough AWS for ECR, without the SDK: the CLI's settings (profiles, region, endpoints),
//! its credential chain, and signed JSON 1.1 calls. Signing is the maintained `aws-sigv4` crate;
//! HTTP is the crate's blocking `ureq`.

mod credentials;
mod endpoint;
pub mod http;
mod process;
pub mod profile;
mod sts;
pub mod time;

use std::path::PathBuf;

pub use credentials::AwsCredentials;
pub use endpoint::{Endpoint, default_endpoint, dns_suffix, validate_region};
pub use http::{AwsClient, JsonCall};
pub use profile::{Env, Profile, Profiles};

/// Every AWS failure, phrased for the user: what went wrong and what to do. Never carries a
/// secret (no keys, tokens or credential-process output).
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error(
        "no AWS credentials found (looked in: {looked}); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile, or run `aws configure`"
    )]
    NoCredentials { looked: String },
    #[error(
        "the AWS profile `{name}` could not be found in {files}; check --profile / AWS_PROFILE"
    )]
    ProfileNotFound { name: String, files: String },
    #[error("incomplete AWS credentials in {source_name}: {detail}")]
    PartialCredentials { source_name: String, detail: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("credential_process of profile `{profile}` failed: {detail}")]
    CredentialProcess { profile: String, detail: String },
    #[error("AWS {source_name} credentials: {detail}")]
    CredentialSource { source_name: String, detail: String },
    #[error("cannot read {}: {detail}", path.display())]
    File { path: PathBuf, detail: String },
    #[error(
        "no AWS region: pass --region, set AWS_REGION or AWS_DEFAULT_REGION, or set `region` in the profile (aws configure)"
    )]
    NoRegion,
    #[error("`{0}` is not an AWS region name (for example us-east-1)")]
    InvalidRegion(String),
    #[error("invalid endpoint URL `{url}`: {detail}")]
    InvalidEndpoint { url: String, detail: String },
    #[error("cannot reach {endpoint}: {detail}")]
    Network { endpoint: String, detail: String },
    #[error("{service} refused the request ({code}): {message}{hint}")]
    Service {
        service: String,
        status: u16,
        code: String,
        message: String,
        hint: String,
    },
    #[error("unexpected answer from {service}: {detail}")]
    BadResponse { service: String, detail: String },
}

/// What the command line says about AWS; everything left out comes from the environment and
/// the shared files.
#[derive(Clone, Debug, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Settings resolved once per command: the environment, the shared files, the profile.
#[derive(Debug)]
pub struct Session {
    pub env: Env,
    pub profiles: Profiles,
    pub profile_name: String,
    /// `--profile` was given: the AWS CLI then ignores credentials in the environment.
    profile_from_flag: bool,
    options: AwsOptions,
}

impl Session {
    pub fn new(env: Env, options: AwsOptions) -> Result<Session, AwsError> {
        let profiles = Profiles::load(&env)?;
        Session::with_profiles(env, profiles, options)
    }

    pub fn with_profiles(
        env: Env,
        profiles: Profiles,
        options: AwsOptions,
    ) -> Result<Session, AwsError> {
        let flag = options.profile.clone().filter(|name| !name.is_empty());
        let from_env = env
            .get("AWS_PROFILE")
            .or_else(|| env.get("AWS_DEFAULT_PROFILE"))
            .map(str::to_owned);
        let named = flag.is_some() || from_env.is_some();
        let profile_from_flag = flag.is_some();
        let profile_name = flag.or(from_env).unwrap_or_else(|| "default".to_owned());
        if named && profiles.get(&profile_name).is_none() {
            return Err(AwsError::ProfileNotFound {
                name: profile_name,
                files: profiles.describe_files(),
            });
        }
        Ok(Session {
            env,
            profiles,
            profile_name,
            profile_from_flag,
            options,
        })
    }

    pub fn profile(&self) -> Option<Profile<'_>> {
        self.profiles.get(&self.profile_name)
    }

    fn profile_setting(&self, key: &str) -> Option<&str> {
        self.profile().and_then(|profile| profile.get(key))
    }

    /// The region as the AWS CLI v2 picks it: `--region`, `AWS_REGION`, `AWS_DEFAULT_REGION`,
    /// the profile's `region`. `None` when nothing names one.
    pub fn region(&self) -> Result<Option<String>, AwsError> {
        let region = self
            .options
            .region
            .as_deref()
            .filter(|region| !region.is_empty())
            .or_else(|| self.env.get("AWS_REGION"))
            .or_else(|| self.env.get("AWS_DEFAULT_REGION"))
            .or_else(|| self.profile_setting("region"));
        match region {
            Some(region) => Ok(Some(validate_region(region)?.to_owned())),
            None => Ok(None),
        }
    }

    pub fn require_region(&self) -> Result<String, AwsError> {
        self.region()?.ok_or(AwsError::NoRegion)
    }

    /// A configured endpoint for the service: `--endpoint-url`, then `AWS_ENDPOINT_URL_<ID>`
    /// (`env_id` like `ECR` or `ECR_PUBLIC`), `AWS_ENDPOINT_URL`, the profile's `endpoint_url`;
    /// the variables and the profile are skipped under `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`.
    pub fn configured_endpoint(&self, env_id: &str) -> Option<String> {
        if let Some(url) = self
            .options
            .endpoint_url
            .as_deref()
            .filter(|url| !url.is_empty())
        {
            return Some(url.to_owned());
        }
        self.endpoint_from_settings(env_id)
    }

    /// [`Self::configured_endpoint`] without `--endpoint-url`, which names the command's own
    /// service only (STS for assumed roles takes its endpoint from here).
    pub fn endpoint_from_settings(&self, env_id: &str) -> Option<String> {
        let ignore = self
            .env
            .get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .or_else(|| self.profile_setting("ignore_configured_endpoint_urls"))
            .is_some_and(|value| value.eq_ignore_ascii_case("true"));
        if ignore {
            return None;
        }
        self.env
            .get(&format!("AWS_ENDPOINT_URL_{env_id}"))
            .or_else(|| self.env.get("AWS_ENDPOINT_URL"))
            .or_else(|| self.profile_setting("endpoint_url"))
            .map(str::to_owned)
    }

    /// Whether FIPS endpoints are asked for (`AWS_USE_FIPS_ENDPOINT`, `use_fips_endpoint`).
    pub fn use_fips(&self) -> bool {
        self.env
            .get("AWS_USE_FIPS_ENDPOINT")
            .or_else(|| self.profile_setting("use_fips_endpoint"))
            .is_some_and(|value| value.eq_ignore_ascii_case("true"))
    }

    /// The credentials, from the first source of the AWS CLI's chain that has them.
    pub fn credentials(&self) -> Result<AwsCredentials, AwsError> {
        credentials::resolve(self, self.profile_from_flag)
    }

    /// Extra CA certificates for AWS endpoints (`AWS_CA_BUNDLE`, the profile's `ca_bundle`).
    pub fn ca_bundle(&self) -> Option<PathBuf> {
        self.env
            .get("AWS_CA_BUNDLE")
            .or_else(|| self.profile_setting("ca_bundle"))
            .map(|path| self.env.expand_user(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(env: &[(&str, &str)], options: AwsOptions) -> Result<Session, AwsError> {
        let config = "[default]\nregion = eu-west-1\n[profile other]\nregion = ap-south-1\nendpoint_url = http://profile.example\n";
        let profiles = Profiles::from_texts(
            "c".into(),
            config,
            "k".into(),
            "[keys]\naws_access_key_id = A\n",
        );
        Session::with_profiles(Env::from_pairs(env.iter().copied()), profiles, options)
    }

    #[test]
    fn region_precedence() {
        let flag = AwsOptions {
            region: Some("us-west-1".into()),
            ..AwsOptions::default()
        };
        let env = [
            ("AWS_REGION", "us-east-2"),
            ("AWS_DEFAULT_REGION", "ca-central-1"),
        ];
        assert_eq!(
            session(&env, flag).unwrap().region().unwrap().as_deref(),
            Some("us-west-1")
        );
        assert_eq!(
            session(&env, AwsOptions::default())
                .unwrap()
                .region()
                .unwrap()
                .as_deref(),
            Some("us-east-2")
        );
        assert_eq!(
            session(&env[1..], AwsOptions::default())
                .unwrap()
                .region()
                .unwrap()
                .as_deref(),
            Some("ca-central-1")
        );
        assert_eq!(
            session(&[], AwsOptions::default())
                .unwrap()
                .region()
                .unwrap()
                .as_deref(),
            Some("eu-west-1")
        );
        let other = [("AWS_PROFILE", "other")];
        assert_eq!(
            session(&other, AwsOptions::default())
                .unwrap()
                .region()
                .unwrap()
                .as_deref(),
            Some("ap-south-1")
        );
        let keys = [("AWS_PROFILE", "keys")];
        assert_eq!(
            session(&keys, AwsOptions::default())
                .unwrap()
                .region()
                .unwrap(),
            None
        );
        let bad = [("AWS_REGION", "us east 1")];
        assert!(matches!(
            session(&bad, AwsOptions::default()).unwrap().region(),
            Err(AwsError::InvalidRegion(_))
        ));
    }

    #[test]
    fn profile_precedence_and_missing_profiles() {
        let flag = AwsOptions {
            profile: Some("other".into()),
            ..AwsOptions::default()
        };
        let s = session(&[("AWS_PROFILE", "keys")], flag).unwrap();
        assert_eq!(s.profile_name, "other");
        assert!(s.profile_from_flag);
        let s = session(&[("AWS_DEFAULT_PROFILE", "keys")], AwsOptions::default()).unwrap();
        assert_eq!(s.profile_name, "keys");
        assert!(!s.profile_from_flag);
        let err = session(&[("AWS_PROFILE", "nope")], AwsOptions::default()).unwrap_err();
        assert!(
            err.to_string().contains("`nope` could not be found"),
            "{err}"
        );
        // An unnamed default profile may be absent.
        let profiles = Profiles::from_texts("c".into(), "", "k".into(), "");
        assert!(Session::with_profiles(Env::default(), profiles, AwsOptions::default()).is_ok());
    }

    #[test]
    fn endpoint_precedence() {
        let env = [
            ("AWS_PROFILE", "other"),
            ("AWS_ENDPOINT_URL", "http://all.example"),
            ("AWS_ENDPOINT_URL_ECR", "http://ecr.example"),
        ];
        let s = session(&env, AwsOptions::default()).unwrap();
        assert_eq!(
            s.configured_endpoint("ECR").as_deref(),
            Some("http://ecr.example")
        );
        assert_eq!(
            s.configured_endpoint("ECR_PUBLIC").as_deref(),
            Some("http://all.example")
        );
        let s = session(&env[..1], AwsOptions::default()).unwrap();
        assert_eq!(
            s.configured_endpoint("ECR").as_deref(),
            Some("http://profile.example")
        );
        let flag = AwsOptions {
            endpoint_url: Some("http://flag.example".into()),
            ..AwsOptions::default()
        };
        let mut ignoring = env.to_vec();
        ignoring.push(("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"));
        assert_eq!(
            session(&ignoring, AwsOptions::default())
                .unwrap()
                .configured_endpoint("ECR"),
            None
        );
        assert_eq!(
            session(&ignoring, flag)
                .unwrap()
                .configured_endpoint("ECR")
                .as_deref(),
            Some("http://flag.example")
        );
    }
}
