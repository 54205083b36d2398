//! Which hosts are Amazon ECR registries, with the patterns of amazon-ecr-credential-helper
//! (0.12): private `ACCOUNT.dkr.ecr[-fips].REGION.SUFFIX` (or `.dkr-ecr.`, dual stack) in
//! every partition, and ECR Public.

/// ECR Public's registry host; its API lives in us-east-1.
pub const ECR_PUBLIC_HOST: &str = "public.ecr.aws";
/// The other name of ECR Public.
pub const ECR_PUBLIC_ALIAS: &str = "ecr-public.aws.com";
pub const ECR_PUBLIC_REGION: &str = "us-east-1";

/// The DNS suffixes of registry hosts: the partitions' `amazonaws` domains, the dual-stack
/// `on.aws` domains, and the isolated partitions.
const REGISTRY_SUFFIXES: [&str; 9] = [
    "amazonaws.com",
    "amazonaws.com.cn",
    "amazonaws.eu",
    "on.aws",
    "on.amazonwebservices.com.cn",
    "sc2s.sgov.gov",
    "c2s.ic.gov",
    "cloud.adc-e.uk",
    "csp.hci.ic.gov",
];

/// An ECR registry named by a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EcrRegistry {
    Private {
        /// The 12-digit AWS account that owns the registry.
        account: String,
        region: String,
        /// `.dkr.ecr-fips.`: the FIPS endpoint of the API is used.
        fips: bool,
        /// `.dkr-ecr.`: the dual-stack (IPv6) host.
        dual_stack: bool,
        /// The host's DNS suffix (`amazonaws.com`, `c2s.ic.gov`, ...).
        suffix: String,
    },
    Public,
}

impl EcrRegistry {
    pub fn is_public(&self) -> bool {
        matches!(self, EcrRegistry::Public)
    }
}

/// The registry behind a server URL as Docker passes it to a helper: a leading `https://`,
/// a port and any path are ignored. `None` for hosts that are not ECR.
pub fn parse_registry(server_url: &str) -> Option<EcrRegistry> {
    let rest = server_url.strip_prefix("https://").unwrap_or(server_url);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let host = host.split_once(':').map_or(host, |(host, _)| host);
    if host == ECR_PUBLIC_HOST || host == ECR_PUBLIC_ALIAS {
        return Some(EcrRegistry::Public);
    }
    let (account, rest) = host.split_once('.')?;
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (dual_stack, rest) = if let Some(rest) = rest.strip_prefix("dkr.ecr") {
        (false, rest)
    } else {
        (true, rest.strip_prefix("dkr-ecr")?)
    };
    let (fips, rest) = match rest.strip_prefix("-fips") {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let rest = rest.strip_prefix('.')?;
    let (region, suffix) = rest.split_once('.')?;
    let region_ok = region
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !region_ok || !REGISTRY_SUFFIXES.contains(&suffix) {
        return None;
    }
    Some(EcrRegistry::Private {
        account: account.to_owned(),
        region: region.to_owned(),
        fips,
        dual_stack,
        suffix: suffix.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn private(
        account: &str,
        region: &str,
        fips: bool,
        dual_stack: bool,
        suffix: &str,
    ) -> Option<EcrRegistry> {
        Some(EcrRegistry::Private {
            account: account.into(),
            region: region.into(),
            fips,
            dual_stack,
            suffix: suffix.into(),
        })
    }

    #[test]
    fn host_table() {
        let a = "123456789012";
        let cases: Vec<(&str, Option<EcrRegistry>)> = vec![
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com",
                private(a, "us-east-1", false, false, "amazonaws.com"),
            ),
            (
                "https://123456789012.dkr.ecr.us-west-2.amazonaws.com",
                private(a, "us-west-2", false, false, "amazonaws.com"),
            ),
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/repo/manifests/x",
                private(a, "eu-west-1", false, false, "amazonaws.com"),
            ),
            (
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com:443",
                private(a, "eu-west-1", false, false, "amazonaws.com"),
            ),
            (
                "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
                private(a, "us-east-1", true, false, "amazonaws.com"),
            ),
            (
                "123456789012.dkr.ecr.us-gov-west-1.amazonaws.com",
                private(a, "us-gov-west-1", false, false, "amazonaws.com"),
            ),
            (
                "123456789012.dkr.ecr-fips.us-gov-east-1.amazonaws.com",
                private(a, "us-gov-east-1", true, false, "amazonaws.com"),
            ),
            (
                "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
                private(a, "cn-north-1", false, false, "amazonaws.com.cn"),
            ),
            (
                "123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn",
                private(a, "cn-northwest-1", false, false, "amazonaws.com.cn"),
            ),
            (
                "123456789012.dkr-ecr.us-east-1.on.aws",
                private(a, "us-east-1", false, true, "on.aws"),
            ),
            (
                "123456789012.dkr-ecr-fips.us-east-1.on.aws",
                private(a, "us-east-1", true, true, "on.aws"),
            ),
            (
                "123456789012.dkr-ecr.cn-north-1.on.amazonwebservices.com.cn",
                private(a, "cn-north-1", false, true, "on.amazonwebservices.com.cn"),
            ),
            (
                "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov",
                private(a, "us-iso-east-1", false, false, "c2s.ic.gov"),
            ),
            (
                "123456789012.dkr.ecr.us-isob-east-1.sc2s.sgov.gov",
                private(a, "us-isob-east-1", false, false, "sc2s.sgov.gov"),
            ),
            (
                "123456789012.dkr.ecr.eu-isoe-west-1.cloud.adc-e.uk",
                private(a, "eu-isoe-west-1", false, false, "cloud.adc-e.uk"),
            ),
            (
                "123456789012.dkr.ecr.us-isof-south-1.csp.hci.ic.gov",
                private(a, "us-isof-south-1", false, false, "csp.hci.ic.gov"),
            ),
            (
                "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu",
                private(a, "eusc-de-east-1", false, false, "amazonaws.eu"),
            ),
            ("public.ecr.aws", Some(EcrRegistry::Public)),
            ("https://public.ecr.aws/v2/", Some(EcrRegistry::Public)),
            ("ecr-public.aws.com", Some(EcrRegistry::Public)),
            // Not ECR.
            ("docker.io", None),
            ("https://index.docker.io/v1/", None),
            ("ghcr.io", None),
            ("", None),
            ("12345678901.dkr.ecr.us-east-1.amazonaws.com", None),
            ("1234567890123.dkr.ecr.us-east-1.amazonaws.com", None),
            ("abcdefghijkl.dkr.ecr.us-east-1.amazonaws.com", None),
            (
                "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
                None,
            ),
            ("123456789012.dkr.ecr.us-east-1.example.com", None),
            ("123456789012.ecr.us-east-1.amazonaws.com", None),
            ("123456789012.dkr.ecr.amazonaws.com", None),
            ("123456789012.dkr.ecr-gov.us-east-1.amazonaws.com", None),
            ("x.123456789012.dkr.ecr.us-east-1.amazonaws.com", None),
            ("http://123456789012.dkr.ecr.us-east-1.amazonaws.com", None),
            ("public.ecr.aws.evil.example", None),
            ("api.ecr.us-east-1.amazonaws.com", None),
        ];
        for (host, want) in cases {
            assert_eq!(parse_registry(host), want, "{host}");
        }
    }
}
