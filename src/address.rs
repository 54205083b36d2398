//! Registry addresses: Docker's rules that turn what a user types (`docker.io`,
//! `https://host:port/path`, `host:port`, ...) into the key of `auths` / `credHelpers`, and the
//! host that is contacted to verify a login. Knows nothing of files or HTTP.

/// The key Docker Hub's credentials are stored under.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The host every Docker Hub login is verified against.
pub const DOCKER_HUB_REGISTRY_HOST: &str = "registry-1.docker.io";

/// Every spelling of Docker Hub's domain. Docker maps only the first two to the Hub key for image
/// lookups and none of them for `login`; reglogin treats them all as the Hub (see `login_key`).
const DOCKER_HUB_DOMAINS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// A registry as the user named it, resolved once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryAddress {
    /// The key in `auths` / `credHelpers` and in credential stores.
    pub key: String,
    /// `host[:port]` to contact for verification.
    pub host: String,
}

impl RegistryAddress {
    /// The address `login` and `logout` use for their optional SERVER argument.
    pub fn for_login(server: Option<&str>) -> RegistryAddress {
        let key = login_key(server);
        let host = if key == DOCKER_HUB_KEY {
            DOCKER_HUB_REGISTRY_HOST.to_owned()
        } else {
            key.clone()
        };
        RegistryAddress { key, host }
    }

    pub fn is_docker_hub(&self) -> bool {
        self.key == DOCKER_HUB_KEY
    }
}

/// Docker's `ConvertToHostname`: with a scheme, keep `host[:port]`; otherwise cut at the first `/`.
pub fn convert_to_hostname(address: &str) -> &str {
    let without_scheme = match address.find("://") {
        Some(index) => &address[index + 3..],
        None => address,
    };
    match without_scheme.find('/') {
        Some(index) => &without_scheme[..index],
        None => without_scheme,
    }
}

/// The key `login` stores credentials under. Docker keeps `index.docker.io` and
/// `registry-1.docker.io` as keys of their own, where no pull ever looks (cli#7326); reglogin
/// stores every Hub spelling under the Hub key.
pub fn login_key(server: Option<&str>) -> String {
    let server = server.map(str::trim).unwrap_or_default();
    if server.is_empty() || server == DOCKER_HUB_KEY {
        return DOCKER_HUB_KEY.to_owned();
    }
    let host = convert_to_hostname(server);
    if is_docker_hub_domain(host) {
        return DOCKER_HUB_KEY.to_owned();
    }
    host.to_owned()
}

pub fn is_docker_hub_domain(host: &str) -> bool {
    DOCKER_HUB_DOMAINS
        .iter()
        .any(|domain| host.eq_ignore_ascii_case(domain))
}

/// The keys `logout SERVER` erases, in Docker's order: the argument as typed, its host form, and
/// the host under both schemes (old Docker versions stored URLs). Every Hub spelling also erases
/// the Hub key, which Docker forgets to do.
pub fn logout_keys(server: Option<&str>) -> Vec<String> {
    let server = server.map(str::trim).unwrap_or_default();
    if server.is_empty() {
        return vec![DOCKER_HUB_KEY.to_owned()];
    }
    let host = convert_to_hostname(server);
    let mut keys = Vec::new();
    let mut push = |key: String| {
        if !keys.contains(&key) {
            keys.push(key);
        }
    };
    push(server.to_owned());
    push(host.to_owned());
    push(format!("http://{host}"));
    push(format!("https://{host}"));
    if is_docker_hub_domain(host) || server == DOCKER_HUB_KEY {
        push(DOCKER_HUB_KEY.to_owned());
    }
    keys
}

/// The domain of an image reference, as Docker's reference parser finds it: the part before the
/// first `/` when it looks like a host (has `.` or `:`, or is `localhost`), else Docker Hub.
pub fn image_domain(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

/// The `auths` key Docker looks up first for a registry domain (its `GetAuthConfig` with the
/// domain of an image): Hub domains map to the Hub key.
pub fn lookup_key(domain: &str) -> String {
    if is_docker_hub_domain(domain) || domain == DOCKER_HUB_KEY {
        DOCKER_HUB_KEY.to_owned()
    } else {
        domain.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (what the user types, the key, the host verified) — spec/docker.md §6, with reglogin's
    /// deliberate difference for `index.docker.io` and `registry-1.docker.io`.
    const LOGIN_CASES: &[(Option<&str>, &str, &str)] = &[
        (None, DOCKER_HUB_KEY, "registry-1.docker.io"),
        (Some(""), DOCKER_HUB_KEY, "registry-1.docker.io"),
        (Some("docker.io"), DOCKER_HUB_KEY, "registry-1.docker.io"),
        (
            Some("https://index.docker.io/v1/"),
            DOCKER_HUB_KEY,
            "registry-1.docker.io",
        ),
        (
            Some("https://index.docker.io/v1"),
            DOCKER_HUB_KEY,
            "registry-1.docker.io",
        ),
        (
            Some("index.docker.io"),
            DOCKER_HUB_KEY,
            "registry-1.docker.io",
        ),
        (
            Some("registry-1.docker.io"),
            DOCKER_HUB_KEY,
            "registry-1.docker.io",
        ),
        (
            Some("https://registry-1.docker.io/v2/"),
            DOCKER_HUB_KEY,
            "registry-1.docker.io",
        ),
        (
            Some("https://foo.example:443/x/y"),
            "foo.example:443",
            "foo.example:443",
        ),
        (Some("foo:5000"), "foo:5000", "foo:5000"),
        (Some("https://foo:5000/"), "foo:5000", "foo:5000"),
        (
            Some("http://127.0.0.1:5001/"),
            "127.0.0.1:5001",
            "127.0.0.1:5001",
        ),
        (Some("127.0.0.1:5001"), "127.0.0.1:5001", "127.0.0.1:5001"),
        (Some("ghcr.io"), "ghcr.io", "ghcr.io"),
        (Some("ghcr.io/owner/repo"), "ghcr.io", "ghcr.io"),
        (Some("https://[::1]:5000/v2/"), "[::1]:5000", "[::1]:5000"),
        (Some("  quay.io  "), "quay.io", "quay.io"),
    ];

    #[test]
    fn login_addresses_follow_dockers_table() {
        for (input, key, host) in LOGIN_CASES {
            let address = RegistryAddress::for_login(*input);
            assert_eq!(address.key, *key, "key for {input:?}");
            assert_eq!(address.host, *host, "host for {input:?}");
        }
    }

    #[test]
    fn logout_erases_every_spelling() {
        assert_eq!(logout_keys(None), vec![DOCKER_HUB_KEY]);
        assert_eq!(
            logout_keys(Some("http://127.0.0.1:5001/")),
            vec![
                "http://127.0.0.1:5001/",
                "127.0.0.1:5001",
                "http://127.0.0.1:5001",
                "https://127.0.0.1:5001"
            ]
        );
        assert_eq!(
            logout_keys(Some("foo:5000")),
            vec!["foo:5000", "http://foo:5000", "https://foo:5000"]
        );
        let hub = logout_keys(Some("docker.io"));
        assert!(hub.contains(&DOCKER_HUB_KEY.to_owned()), "{hub:?}");
        assert!(hub.contains(&"docker.io".to_owned()));
    }

    #[test]
    fn image_domains_and_lookup_keys() {
        let cases = [
            ("alpine", "docker.io", DOCKER_HUB_KEY),
            ("library/alpine:3", "docker.io", DOCKER_HUB_KEY),
            ("docker.io/library/alpine", "docker.io", DOCKER_HUB_KEY),
            ("index.docker.io/x/y", "index.docker.io", DOCKER_HUB_KEY),
            ("ghcr.io/o/r:tag", "ghcr.io", "ghcr.io"),
            ("localhost/x", "localhost", "localhost"),
            ("127.0.0.1:5001/x", "127.0.0.1:5001", "127.0.0.1:5001"),
        ];
        for (image, domain, key) in cases {
            assert_eq!(image_domain(image), domain, "{image}");
            assert_eq!(lookup_key(image_domain(image)), key, "{image}");
        }
    }
}
