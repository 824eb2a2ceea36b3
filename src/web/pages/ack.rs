//! The authority's acknowledgement kept with a recorded submission (issue 25 part 3),
//! downloaded again: `GET /cases/{id}/acknowledgements/{sha256}` gives the file's bytes
//! under its original name and type. Scoped to the organisation the session acts in
//! (another organisation's case, or a hash the case does not hold, is a 404 like an
//! unknown case), checked against its hash, and written to the access log like any other
//! download (`web::attachment_bytes`). The register links each kept acknowledgement here.

use crate::web::form::PageCtx;
use crate::web::page::error_page;
use axum::extract::Path;
use axum::response::Response;

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
    crate::web::attachment_bytes(&ack.media_type, &ack.name, bytes)
}

/// The download address of the acknowledgement kept with the step `e`, if any (the case
/// page's timeline links it).
pub(super) fn link(case: &str, e: &crate::case::Recorded) -> Option<String> {
    match &e.body {
        crate::case::EventBody::Advanced {
            submission: Some(crate::case::Submission { ack: Some(a), .. }),
            ..
        } => Some(href(case, &a.sha256)),
        _ => None,
    }
}

/// The download address of the acknowledgement of `case` kept under `sha256`.
pub(super) fn href(case: &str, sha256: &str) -> String {
    format!(
        "/cases/{}/acknowledgements/{sha256}",
        crate::web::page::encode(case)
    )
}
