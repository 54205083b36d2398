//! Service endpoints: the partition's DNS suffix for a region, the default endpoint of a
//! service, and parsing of a configured `--endpoint-url`.

use super::AwsError;

/// A region name must be a DNS label (the SDKs check the same before building a host name).
pub fn validate_region(region: &str) -> Result<&str, AwsError> {
    let ok = !region.is_empty()
        && region.len() <= 63
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if ok {
        Ok(region)
    } else {
        Err(AwsError::InvalidRegion(region.to_owned()))
    }
}

/// The DNS suffix of the partition a region belongs to.
pub fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else if region.starts_with("us-isob-") {
        "sc2s.sgov.gov"
    } else if region.starts_with("us-isof-") {
        "csp.hci.ic.gov"
    } else if region.starts_with("us-iso-") {
        "c2s.ic.gov"
    } else if region.starts_with("eu-isoe-") {
        "cloud.adc-e.uk"
    } else if region.starts_with("eusc-") {
        "amazonaws.eu"
    } else {
        "amazonaws.com"
    }
}

/// The public endpoint of `service` in `region`: `ecr` is `api.ecr.REGION.SUFFIX` (FIPS:
/// `ecr-fips.REGION.SUFFIX`), `ecr-public` is `api.ecr-public.REGION.SUFFIX`, others
/// `SERVICE.REGION.SUFFIX`.
pub fn default_endpoint(service: &str, region: &str, fips: bool) -> String {
    let suffix = dns_suffix(region);
    match (service, fips) {
        ("ecr", false) => format!("https://api.ecr.{region}.{suffix}"),
        ("ecr-public", false) => format!("https://api.ecr-public.{region}.{suffix}"),
        (service, true) => format!("https://{service}-fips.{region}.{suffix}"),
        (service, false) => format!("https://{service}.{region}.{suffix}"),
    }
}

/// An endpoint URL taken apart for the request and its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `scheme://authority` with the path, no trailing `/`.
    pub url: String,
    /// `host[:port]` as the `Host` header carries it (default ports left out).
    pub authority: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, AwsError> {
        let invalid = |detail: &str| AwsError::InvalidEndpoint {
            url: url.to_owned(),
            detail: detail.to_owned(),
        };
        let trimmed = url.trim().trim_end_matches('/');
        let (scheme, rest) = trimmed
            .split_once("://")
            .ok_or_else(|| invalid("it needs a scheme, like https://host"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(invalid("only http:// and https:// are supported"));
        }
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(invalid("it has no host"));
        }
        if rest[authority.len()..].contains(['?', '#']) {
            return Err(invalid("it may not have a query or fragment"));
        }
        let default_port = if scheme == "https" { ":443" } else { ":80" };
        let host_header = authority
            .strip_suffix(default_port)
            .unwrap_or(authority)
            .to_ascii_lowercase();
        Ok(Endpoint {
            url: format!("{scheme}://{}{}", authority, &rest[authority.len()..]),
            authority: host_header,
        })
    }

    /// The URL a JSON call posts to: the endpoint's path, or `/`.
    pub fn request_url(&self) -> String {
        let after_scheme = self.url.split_once("://").map_or("", |(_, rest)| rest);
        if after_scheme.contains('/') {
            self.url.clone()
        } else {
            format!("{}/", self.url)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_have_their_suffixes() {
        let cases = [
            ("us-east-1", "https://api.ecr.us-east-1.amazonaws.com"),
            (
                "us-gov-west-1",
                "https://api.ecr.us-gov-west-1.amazonaws.com",
            ),
            ("cn-north-1", "https://api.ecr.cn-north-1.amazonaws.com.cn"),
            (
                "cn-northwest-1",
                "https://api.ecr.cn-northwest-1.amazonaws.com.cn",
            ),
            ("us-iso-east-1", "https://api.ecr.us-iso-east-1.c2s.ic.gov"),
            (
                "us-isob-east-1",
                "https://api.ecr.us-isob-east-1.sc2s.sgov.gov",
            ),
            (
                "us-isof-south-1",
                "https://api.ecr.us-isof-south-1.csp.hci.ic.gov",
            ),
            (
                "eu-isoe-west-1",
                "https://api.ecr.eu-isoe-west-1.cloud.adc-e.uk",
            ),
            (
                "eusc-de-east-1",
                "https://api.ecr.eusc-de-east-1.amazonaws.eu",
            ),
        ];
        for (region, endpoint) in cases {
            assert_eq!(default_endpoint("ecr", region, false), endpoint, "{region}");
        }
        assert_eq!(
            default_endpoint("ecr", "us-east-1", true),
            "https://ecr-fips.us-east-1.amazonaws.com"
        );
        assert_eq!(
            default_endpoint("ecr-public", "us-east-1", false),
            "https://api.ecr-public.us-east-1.amazonaws.com"
        );
        assert_eq!(
            default_endpoint("sts", "eu-west-1", false),
            "https://sts.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn regions_must_be_dns_labels() {
        for good in ["us-east-1", "cn-north-1", "local"] {
            assert!(validate_region(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "US-EAST-1",
            "us east 1",
            "us-east-1.",
            "-x",
            "a/b",
            "evil.com/x",
        ] {
            assert!(validate_region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints_parse() {
        let e = Endpoint::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(
            (e.url.as_str(), e.authority.as_str()),
            ("http://127.0.0.1:5000", "127.0.0.1:5000")
        );
        assert_eq!(e.request_url(), "http://127.0.0.1:5000/");
        let e =
            Endpoint::parse("HTTPS://Vpce-1.api.ecr.us-east-1.vpce.amazonaws.com:443/").unwrap();
        assert_eq!(e.authority, "vpce-1.api.ecr.us-east-1.vpce.amazonaws.com");
        assert_eq!(
            e.request_url(),
            "https://Vpce-1.api.ecr.us-east-1.vpce.amazonaws.com:443/"
        );
        let e = Endpoint::parse("https://proxy.example/aws/ecr").unwrap();
        assert_eq!(e.request_url(), "https://proxy.example/aws/ecr");
        for bad in [
            "127.0.0.1:5000",
            "ftp://x",
            "https://",
            "https://u:p@host",
            "https://h/?q=1",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }
}
