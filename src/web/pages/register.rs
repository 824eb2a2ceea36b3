//! The register's page and CSV.

use crate::web::form::PageCtx;
use crate::web::page::{Page, error_page, word};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

pub(super) async fn register_page(ctx: PageCtx, addr: crate::web::access::ClientAddr) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    let read = crate::web::access::register_read("view", "page".into());
    if let Err(e) = app.log_read(&c, &addr, read).await {
        return error_page(&app, lang, &c, e);
    }
    let rows = app
        .for_caller(&c)
        .read(|core, store, me| Ok(crate::web::logged(&me.org, core.register(store, &me.org)?)))
        .await;
    match rows {
        Ok(rows) => {
            // The states in the page's words (the CSV and the API keep the ids).
            let shown: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut v = json!(r);
                    if let Some(wf) = app.workflows.get(&r.workflow)
                        && let Ok(lb) = app.labels(&wf, lang)
                    {
                        // Dates as a table shows them, in the workflow's zone with its
                        // offset (the CSV and the API keep RFC 3339).
                        for key in [
                            "aware_at",
                            "authority_notified_at",
                            "individuals_notified_at",
                        ] {
                            if let Some(Ok(at)) =
                                v[key].as_str().map(chrono::DateTime::parse_from_rfc3339)
                            {
                                v[key] = json!(crate::time::short_in(at.to_utc(), wf.timezone));
                            }
                        }
                        v["status"] = json!(lb.get(&format!("register_{}", r.status)));
                        // Issue 25 part 3: each step sent to an authority, one a line.
                        // A kept acknowledgement links to its download.
                        v["submission_lines"] = json!(
                            r.submissions
                                .split("; ")
                                .filter(|s| !s.is_empty())
                                .map(|s| submission_line(&r.case, s, lang))
                                .collect::<Vec<_>>()
                        );
                        v["authority"] = json!(lb.get(&format!("authority={}", r.authority)));
                        v["individuals"] = json!(lb.get(&format!("individuals={}", r.individuals)));
                    }
                    v
                })
                .collect();
            Page::of(lang, &c, word(lang, "register"), "/register").render(
                &app,
                "register",
                json!({"rows": shown, "inspection": true, "is_dpo": c.user.role.is_dpo()}),
                StatusCode::OK,
            )
        }
        Err(e) => error_page(&app, lang, &c, e),
    }
}

pub(super) async fn register_csv(ctx: PageCtx, addr: crate::web::access::ClientAddr) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    let read = crate::web::access::register_read("download", "csv".into());
    if let Err(e) = app.log_read(&c, &addr, read).await {
        return error_page(&app, lang, &c, e);
    }
    let rows = app
        .for_caller(&c)
        .read(|core, store, me| Ok(crate::web::logged(&me.org, core.register(store, &me.org)?)))
        .await;
    match rows {
        Ok(rows) => crate::web::api::csv_response(&c.user.org, crate::register::csv(&rows)),
        Err(e) => error_page(&app, lang, &c, e),
    }
}

/// One submission line of the register page, with the address of its kept
/// acknowledgement (`ack sha256:…`), if any.
fn submission_line(case: &str, line: &str, lang: crate::time::Lang) -> serde_json::Value {
    let ack = line
        .split_once("ack sha256:")
        .map(|(_, h)| {
            h.chars()
                .take_while(char::is_ascii_hexdigit)
                .collect::<String>()
        })
        .filter(|h| h.len() == 64);
    json!({
        "text": line,
        "label": word(lang, "fill_ack"),
        "ack": ack.map(|h| format!(
            "/cases/{}/acknowledgements/{h}",
            crate::web::page::encode(case)
        )),
    })
}
