//! Assumed roles through STS (query protocol): `AssumeRole` for `role_arn` + `source_profile` /
//! `credential_source`, `AssumeRoleWithWebIdentity` for `web_identity_token_file` (EKS IRSA).

use std::time::Duration;

use super::http::{agent, xml_text};
use super::{
    AwsClient, AwsCredentials, AwsError, Endpoint, Profile, Session, default_endpoint, time,
};
use crate::secret::Secret;

/// `application/x-www-form-urlencoded` value encoding (RFC 3986 unreserved kept).
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", form_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

fn sts_client(
    session: &Session,
    profile_region: Option<&str>,
    credentials: Option<AwsCredentials>,
) -> Result<AwsClient, AwsError> {
    let region = match profile_region {
        Some(region) => Some(super::validate_region(region)?.to_owned()),
        None => session.region()?,
    };
    let (url, region) = match (session.endpoint_from_settings("STS"), region) {
        (Some(url), region) => (url, region.unwrap_or_else(|| "us-east-1".to_owned())),
        (None, Some(region)) => (default_endpoint("sts", &region, false), region),
        (None, None) => (
            "https://sts.amazonaws.com".to_owned(),
            "us-east-1".to_owned(),
        ),
    };
    let endpoint = Endpoint::parse(&url)?;
    let agent = agent(
        &session.env,
        &endpoint.url,
        session.ca_bundle().as_deref(),
        Duration::from_secs(30),
    )?;
    Ok(AwsClient::new(
        agent,
        endpoint,
        &region,
        "sts",
        "AWS STS",
        credentials,
    ))
}

fn parse_credentials(xml: &str, source: String) -> Result<AwsCredentials, AwsError> {
    let bad = |detail: &str| AwsError::BadResponse {
        service: "AWS STS".into(),
        detail: detail.to_owned(),
    };
    let access_key_id =
        xml_text(xml, "AccessKeyId").ok_or_else(|| bad("no AccessKeyId in the answer"))?;
    let secret =
        xml_text(xml, "SecretAccessKey").ok_or_else(|| bad("no SecretAccessKey in the answer"))?;
    Ok(AwsCredentials {
        access_key_id,
        secret_access_key: Secret::new(secret),
        session_token: xml_text(xml, "SessionToken").map(Secret::new),
        expires_at: xml_text(xml, "Expiration")
            .as_deref()
            .and_then(time::parse_rfc3339),
        source,
    })
}

fn session_name(explicit: Option<&str>) -> String {
    explicit.map(str::to_owned).unwrap_or_else(|| {
        format!(
            "reglogin-{}",
            time::unix_seconds(std::time::SystemTime::now())
        )
    })
}

pub(super) fn assume_role(
    session: &Session,
    profile: Profile<'_>,
    role_arn: &str,
    source: AwsCredentials,
) -> Result<AwsCredentials, AwsError> {
    if profile.get("mfa_serial").is_some() {
        return Err(AwsError::Unsupported(format!(
            "profile `{}` needs an MFA code (mfa_serial), which reglogin cannot prompt for; use a credential_process that handles MFA",
            profile.name
        )));
    }
    let name = session_name(profile.get("role_session_name"));
    let mut pairs = vec![
        ("Action", "AssumeRole"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn),
        ("RoleSessionName", name.as_str()),
    ];
    if let Some(external_id) = profile.get("external_id") {
        pairs.push(("ExternalId", external_id));
    }
    if let Some(duration) = profile.get("duration_seconds") {
        pairs.push(("DurationSeconds", duration));
    }
    let client = sts_client(session, profile.get("region"), Some(source))?;
    let xml = client.call_query(&form(&pairs))?;
    parse_credentials(
        &xml,
        format!("role {role_arn} assumed for profile `{}`", profile.name),
    )
}

pub(super) fn assume_role_with_web_identity(
    session: &Session,
    role_arn: &str,
    token_file: &str,
    explicit_session_name: Option<&str>,
) -> Result<AwsCredentials, AwsError> {
    let path = session.env.expand_user(token_file);
    let token = std::fs::read_to_string(&path).map_err(|err| AwsError::File {
        path: path.clone(),
        detail: format!("{err} (the web identity token file)"),
    })?;
    let token = Secret::new(token.trim());
    let name = session_name(explicit_session_name);
    let body = Secret::new(form(&[
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn),
        ("RoleSessionName", name.as_str()),
        ("WebIdentityToken", token.expose()),
    ]));
    let client = sts_client(session, None, None)?;
    let xml = client.call_query(body.expose())?;
    parse_credentials(
        &xml,
        format!("role {role_arn} assumed with a web identity token"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_encoded() {
        assert_eq!(
            form(&[("RoleArn", "arn:aws:iam::1:role/a b"), ("X", "~._-")]),
            "RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fa%20b&X=~._-"
        );
    }

    #[test]
    fn sts_answers_parse() {
        let xml = "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAX</AccessKeyId>\
                   <SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>\
                   <Expiration>2030-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>";
        let creds = parse_credentials(xml, "src".into()).unwrap();
        assert_eq!(creds.access_key_id, "ASIAX");
        assert_eq!(creds.session_token.unwrap().expose(), "t");
        assert!(creds.expires_at.is_some());
        assert!(parse_credentials("<x/>", "src".into()).is_err());
    }
}
