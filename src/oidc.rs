//! Sign-in through the company's identity provider (issue 25 part 2): the `auth.oidc`
//! settings of the configuration file and their checks. The flow itself (discovery,
//! the authorisation code with PKCE, the ID token's verification) is `web::oidc`; who
//! a provider's subject is in vigie is `store::oidc`.
//!
//! ```yaml
//! auth:
//!   oidc:
//!     issuer: https://login.example.com/realms/staff
//!     client_id: vigie
//!     client_secret_file: /etc/vigie/oidc-secret   # or client_secret_env: VIGIE_OIDC_SECRET
//!     allowed_domains: [example.com]
//!     required_for: [acme]                         # these organisations refuse passwords
//! ```

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The `auth` block of the configuration file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Sign-in through an OpenID Connect provider (none: passwords only).
    #[serde(default)]
    pub oidc: Option<Oidc>,
}

/// One OpenID Connect provider for the instance.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    /// The provider's issuer URL (its discovery document is
    /// `ISSUER/.well-known/openid-configuration`).
    pub issuer: String,
    /// The client id vigie is registered with at the provider.
    pub client_id: String,
    /// A file holding the client secret (only its first line is read).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Or an environment variable holding it.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The e-mail domains that may sign in this way (`example.com` is exactly that
    /// domain, not its subdomains).
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// Organisations (ids) whose members must sign in through the provider: their
    /// passwords are refused, even right ones.
    #[serde(default)]
    pub required_for: Vec<String>,
}

/// Never the secret's file content; the rest is configuration, not personal data.
impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret_file", &self.client_secret_file)
            .field("client_secret_env", &self.client_secret_env)
            .field("allowed_domains", &self.allowed_domains)
            .field("required_for", &self.required_for)
            .finish()
    }
}

/// A setting that is wrong: the field (`auth.oidc.issuer`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bad {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> Bad {
    Bad {
        field,
        message: message.into(),
    }
}

/// A host that is this machine: plain http is accepted there (tests, a provider beside
/// vigie), nowhere else.
fn loopback(url: &str) -> bool {
    let rest = url.strip_prefix("http://").unwrap_or("");
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

impl Oidc {
    /// The checks of the settings themselves (the secret is read by [`Oidc::secret`]).
    /// `public_url` is `http.public_url`: the redirect URI is made from it.
    pub fn check(&self, public_url: Option<&str>) -> Result<(), Bad> {
        let issuer = self.issuer.trim();
        if !(issuer.starts_with("https://") || loopback(issuer))
            || issuer.contains(char::is_whitespace)
            || issuer.len() < "https://x".len()
        {
            return Err(bad(
                "auth.oidc.issuer",
                format!(
                    "{} is not an https:// URL (plain http only on 127.0.0.1 or localhost)",
                    crate::util::quote(issuer)
                ),
            ));
        }
        if self.client_id.trim().is_empty() {
            return Err(bad("auth.oidc.client_id", "must not be empty"));
        }
        match (&self.client_secret_file, &self.client_secret_env) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "auth.oidc.client_secret_file",
                    "give client_secret_file or client_secret_env, not both",
                ));
            }
            (None, None) => {
                return Err(bad(
                    "auth.oidc.client_secret_file",
                    "missing: give client_secret_file (a file holding the secret) or client_secret_env (a variable holding it)",
                ));
            }
            (None, Some(v)) if v.trim().is_empty() => {
                return Err(bad("auth.oidc.client_secret_env", "must not be empty"));
            }
            _ => {}
        }
        if self.allowed_domains.is_empty() {
            return Err(bad(
                "auth.oidc.allowed_domains",
                "name at least one e-mail domain that may sign in (example.com)",
            ));
        }
        for d in &self.allowed_domains {
            let d = d.trim();
            let plain = !d.is_empty()
                && d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !plain {
                return Err(bad(
                    "auth.oidc.allowed_domains",
                    format!("{} is not a domain (example.com)", crate::util::quote(d)),
                ));
            }
        }
        for o in &self.required_for {
            if crate::store::accounts::check_org_id(o.trim()).is_err() {
                return Err(bad(
                    "auth.oidc.required_for",
                    format!("{} is not an organisation id", crate::util::quote(o)),
                ));
            }
        }
        match public_url.map(str::trim) {
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => Ok(()),
            _ => Err(bad(
                "http.public_url",
                "auth.oidc needs the address people reach vigie at (https://vigie.example.org): the provider sends them back to its /oidc/callback",
            )),
        }
    }

    /// The client secret, from its file (first line) or variable.
    pub fn secret(&self) -> Result<String, Bad> {
        let (field, value) = match (&self.client_secret_file, &self.client_secret_env) {
            (Some(path), _) => (
                "auth.oidc.client_secret_file",
                std::fs::read_to_string(path).map_err(|e| {
                    bad(
                        "auth.oidc.client_secret_file",
                        format!("{}: {e}", path.display()),
                    )
                })?,
            ),
            (None, Some(var)) => (
                "auth.oidc.client_secret_env",
                std::env::var(var.trim()).map_err(|_| {
                    bad(
                        "auth.oidc.client_secret_env",
                        format!("the environment variable {} is not set", var.trim()),
                    )
                })?,
            ),
            (None, None) => return Err(bad("auth.oidc.client_secret_file", "missing")),
        };
        let secret = value.lines().next().unwrap_or("").trim().to_string();
        if secret.is_empty() {
            return Err(bad(field, "the client secret is empty"));
        }
        Ok(secret)
    }

    /// The redirect URI: `/oidc/callback` on `http.public_url`.
    pub fn redirect_uri(public_url: &str) -> String {
        format!("{}/oidc/callback", public_url.trim().trim_end_matches('/'))
    }

    /// Whether an address's domain may sign in (exactly one of `allowed_domains`).
    pub fn domain_allowed(&self, email: &str) -> bool {
        let Some((_, domain)) = email.trim().rsplit_once('@') else {
            return false;
        };
        self.allowed_domains
            .iter()
            .any(|d| d.trim().eq_ignore_ascii_case(domain))
    }

    /// Whether `org`'s members must sign in through the provider.
    pub fn required(&self, org: &str) -> bool {
        self.required_for.iter().any(|o| o.trim() == org)
    }

    /// Relative secret files are taken from the configuration file's folder.
    pub fn resolve(&mut self, base: &Path) {
        if let Some(f) = self.client_secret_file.as_mut()
            && f.is_relative()
        {
            *f = base.join(&*f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oidc() -> Oidc {
        Oidc {
            issuer: "https://login.example.com".into(),
            client_id: "vigie".into(),
            client_secret_file: None,
            client_secret_env: Some("VIGIE_TEST_SECRET".into()),
            allowed_domains: vec!["example.com".into()],
            required_for: vec![],
        }
    }

    #[test]
    fn settings_are_checked_field_by_field() {
        let url = Some("https://vigie.example.org");
        assert_eq!(oidc().check(url), Ok(()));
        let mut o = oidc();
        o.issuer = "http://login.example.com".into();
        assert_eq!(o.check(url).unwrap_err().field, "auth.oidc.issuer");
        o.issuer = "http://127.0.0.1:4000".into();
        assert_eq!(o.check(url), Ok(()));
        let mut o = oidc();
        o.client_secret_file = Some("s".into());
        assert_eq!(
            o.check(url).unwrap_err().field,
            "auth.oidc.client_secret_file"
        );
        let mut o = oidc();
        o.allowed_domains = vec![];
        assert_eq!(o.check(url).unwrap_err().field, "auth.oidc.allowed_domains");
        o.allowed_domains = vec!["@example.com".into()];
        assert_eq!(o.check(url).unwrap_err().field, "auth.oidc.allowed_domains");
        let mut o = oidc();
        o.required_for = vec!["Acme Corp".into()];
        assert_eq!(o.check(url).unwrap_err().field, "auth.oidc.required_for");
        assert_eq!(oidc().check(None).unwrap_err().field, "http.public_url");
    }

    #[test]
    fn domains_match_exactly() {
        let o = oidc();
        assert!(o.domain_allowed("Alice@Example.COM"));
        assert!(!o.domain_allowed("alice@sub.example.com"));
        assert!(!o.domain_allowed("alice@example.com.evil.org"));
        assert!(!o.domain_allowed("example.com"));
    }
}
