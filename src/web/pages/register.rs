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
                            r.submitted
                                .iter()
                                .map(|s| submission_line(&r.case, s, &lb, wf.timezone, lang))
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

/// One submission line of the register page in the page's words: the step, the
/// authority's reference, when and how it was sent, and the link to its kept
/// acknowledgement (the hash stays in the CSV).
fn submission_line(
    case: &str,
    s: &crate::register::Submitted,
    lb: &crate::render::Labels,
    tz: chrono_tz::Tz,
    lang: crate::time::Lang,
) -> serde_json::Value {
    let mut parts = vec![lb.get(&s.event).to_string()];
    if let Some(r) = &s.reference {
        // French puts a space before the colon; English and Dutch do not.
        let colon = if lang == crate::time::Lang::Fr {
            " :"
        } else {
            ":"
        };
        parts.push(format!("{}{colon} {r}", word(lang, "fill_reference")));
    }
    parts.push(format!(
        "{} {}",
        word(lang, "fill_submitted_at"),
        crate::time::short_in(s.at, tz)
    ));
    parts.push(
        lb.get(&format!("submission_channel_{}", s.channel))
            .to_string(),
    );
    json!({
        "text": parts.join(" · "),
        "label": word(lang, "fill_ack"),
        "ack": s.ack.as_ref().map(|h| super::ack::href(case, h)),
    })
}
