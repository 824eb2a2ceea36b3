//! Who read what (issue 13 part 4): the client's address of a request, and the access
//! log written for every view or download of a draft, an issued document or the
//! register, through the pages or the API.

use super::{App, Caller, WebError};
use crate::app::issued::{Read, Reader};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The client's IP address: the socket's; behind a proxy named in
/// `http.trusted_proxies`, the nearest address of `X-Forwarded-For` that is not itself
/// a trusted proxy (a client can write anything in the header, only what our proxies
/// appended counts).
pub fn client_address(trusted: &[IpAddr], peer: Option<IpAddr>, headers: &HeaderMap) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map(|s| s.parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        .unwrap_or_default();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(&peer)
        .to_string()
}

/// The caller's address, as [`client_address`] reads it.
pub struct ClientAddr(pub String);

impl FromRequestParts<Arc<App>> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, std::convert::Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(client_address(
            &app.config.http.trusted_proxies,
            peer,
            &parts.headers,
        )))
    }
}

impl App {
    /// Appends to the access log that `caller` read `what` from `address`. A read that
    /// cannot be logged is not served: the caller gets the error instead.
    pub async fn log_read(
        self: &Arc<Self>,
        caller: &Caller,
        address: &ClientAddr,
        what: Read,
    ) -> Result<(), WebError> {
        let org = caller.user.org.clone();
        let who = Reader {
            actor: caller.user.actor(),
            address: address.0.clone(),
            // A bearer token is the API; a session is the pages (and their scripts).
            via: if caller.session.is_some() {
                "web"
            } else {
                "api"
            },
        };
        self.write(move |app, store| {
            Ok(app
                .core
                .log_access(store, &org, &who, &what, crate::time::now())?)
        })
        .await
    }

    /// The access log of a case: its organisation's DPOs only (403 for other roles,
    /// 404 for another organisation's case).
    pub async fn case_access(
        self: &Arc<Self>,
        caller: &Caller,
        id: String,
    ) -> Result<Vec<crate::store::backend::AccessRow>, WebError> {
        if !caller.user.role.is_dpo() {
            return Err(WebError::forbidden("read the access log"));
        }
        let org = caller.user.org.clone();
        self.read(move |app, store| Ok(app.core.access_log(store, &org, Some(&id))?))
            .await
    }
}

/// A draft read: `cnil_notification (md, fr)`.
pub fn draft_read(
    action: &'static str,
    id: &str,
    document: &str,
    format: &str,
    lang: &str,
) -> Read {
    Read {
        action,
        object: "draft",
        case_id: Some(id.to_string()),
        detail: format!("{document} ({format}, {lang})"),
    }
}

/// A register read: the page, the CSV, or the inspection document.
pub fn register_read(action: &'static str, detail: String) -> Read {
    Read {
        action,
        object: "register",
        case_id: None,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::client_address;
    use axum::http::HeaderMap;

    #[test]
    fn forwarded_only_from_a_trusted_proxy() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7".parse().unwrap(),
        );
        let proxy = "10.0.0.2".parse().unwrap();
        // No trusted proxy: the socket's address, whatever the header says.
        assert_eq!(client_address(&[], Some(proxy), &h), "10.0.0.2");
        // From our proxy: the address it appended (the nearest one), not the one the
        // client wrote before it.
        assert_eq!(client_address(&[proxy], Some(proxy), &h), "198.51.100.7");
        // From elsewhere, the header is ignored even with proxies configured.
        let other = "192.0.2.5".parse().unwrap();
        assert_eq!(client_address(&[proxy], Some(other), &h), "192.0.2.5");
        // Our proxy with no header: the proxy itself.
        assert_eq!(
            client_address(&[proxy], Some(proxy), &HeaderMap::new()),
            "10.0.0.2"
        );
    }
}
