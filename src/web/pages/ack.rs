//! The authority's acknowledgement kept with a recorded submission (issue 25 part 3),
//! downloaded again: `GET /cases/{id}/acknowledgements/{sha256}` gives the file's bytes
//! under its original name and type. Scoped to the organisation the session acts in
//! (another organisation's case, or a hash the case does not hold, is a 404 like an
//! unknown case), checked against its hash, and written to the access log like any other
//! download. The register links each kept acknowledgement here.

use crate::web::form::PageCtx;
use crate::web::page::error_page;
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The download of one kept acknowledgement.
pub(super) async fn acknowledgement(
    ctx: PageCtx,
    addr: crate::web::access::ClientAddr,
    Path((id, sha256)): Path<(String, String)>,
) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    let (case, hash) = (id.clone(), sha256.clone());
    let found = app
        .for_caller(&c)
        .read(move |core, store, me| core.acknowledgement(store, &me.org, &case, &hash))
        .await;
    let (ack, bytes) = match found {
        Ok(f) => f,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    let read = crate::app::issued::Read {
        action: "download",
        object: "acknowledgement",
        case_id: Some(id),
        detail: format!("{} (sha256:{})", ack.name, ack.sha256),
    };
    if let Err(e) = app.log_read(&c, &addr, read).await {
        return error_page(&app, lang, &c, e);
    }
    let mut r = bytes.into_response();
    let mime = HeaderValue::from_str(&ack.media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    r.headers_mut().insert(header::CONTENT_TYPE, mime);
    if let Ok(v) = HeaderValue::from_str(&disposition(&ack.name)) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// The download address of the acknowledgement kept with the step `e`, if any (the case
/// page's timeline links it).
pub(super) fn link(case: &str, e: &crate::case::Recorded) -> Option<String> {
    match &e.body {
        crate::case::EventBody::Advanced {
            submission: Some(crate::case::Submission { ack: Some(a), .. }),
            ..
        } => Some(format!(
            "/cases/{}/acknowledgements/{}",
            crate::web::page::encode(case),
            a.sha256
        )),
        _ => None,
    }
}

/// `attachment` with the original name: a plain ASCII fallback (quotes, backslashes,
/// control and non-ASCII characters replaced) and the exact name in RFC 5987 form.
fn disposition(name: &str) -> String {
    let plain: String = name
        .chars()
        .map(|ch| {
            if (ch.is_ascii_graphic() && ch != '"' && ch != '\\') || ch == ' ' {
                ch
            } else {
                '_'
            }
        })
        .collect();
    let exact: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{exact}")
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn the_name_is_kept_and_cannot_break_the_header() {
        assert_eq!(
            disposition("accusé \"cnil\".pdf"),
            "attachment; filename=\"accus_ _cnil_.pdf\"; filename*=UTF-8''accus%C3%A9%20%22cnil%22.pdf"
        );
        assert!(!disposition("a\r\nb.pdf").contains('\n'));
    }
}
