//! The "what if" panel of a case (issue 26 part 3): the case replayed under another
//! version of the law (`?workflow=fr@omnibus-proposal`, `?counting=eu_1182_71`,
//! `?rules=...`), beside what it pinned. Reads only; the same use-case as `vigie whatif`.

use crate::app::whatif::WhatIfRequest;
use crate::web::form::PageCtx;
use crate::web::page::{Page, error_page};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use handlebars::html_escape as esc;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub(super) struct WhatIfQuery {
    workflow: Option<String>,
    counting: Option<String>,
    rules: Option<String>,
}

pub(super) async fn whatif_page(
    ctx: PageCtx,
    Path(id): Path<String>,
    Query(q): Query<WhatIfQuery>,
) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    let req = WhatIfRequest {
        workflow: q.workflow,
        counting: q.counting,
        rules: q.rules,
    };
    let case = id.clone();
    let read = app
        .for_caller(&c)
        .read(move |core, store, me| {
            let w = core.whatif(store, &me.org, &case, &req, crate::time::now())?;
            let l = core.case(store, &me.org, &case)?;
            Ok((w, l))
        })
        .await;
    let (w, l) = match read {
        Ok(r) => r,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    let wf = &l.workflow;
    let lb = match app.labels(wf, lang) {
        Ok(lb) => lb,
        Err(e) => return error_page(&app, lang, &c, e),
    };
    let word = |k: &str| esc(lb.get(k));
    let yes = |b: bool| word(if b { "yes" } else { "no" });
    let clock_label = |id: &str| match lb.get(id) {
        l if l == id => wf
            .clocks
            .get(id)
            .map(|c| c.title.clone())
            .unwrap_or_else(|| id.into()),
        l => l.to_string(),
    };
    let mut rows = vec![(
        "authority".to_string(),
        word("whatif.required"),
        yes(w.authority_required_now),
        yes(w.authority_required_whatif),
    )];
    for d in &w.differences {
        let what = match &d.clock {
            Some(clock) => format!(
                "{} — {}",
                esc(&clock_label(clock)),
                word(&format!("whatif.{}", d.kind))
            ),
            None => word(&format!("whatif.{}", d.kind)),
        };
        let value = |s: &str| match (d.kind, s) {
            ("status", s) => esc(lb.get(&format!("status_{s}"))),
            ("risk", s) => esc(lb.get(&format!("risk={s}"))),
            (_, "yes") => word("yes"),
            (_, "no") => word("no"),
            (_, s) => esc(s),
        };
        let key = match &d.clock {
            Some(clock) => format!("{clock}-{}", d.kind),
            None => d.kind.to_string(),
        };
        rows.push((key, what, value(&d.now), value(&d.whatif)));
    }
    let mut body = format!(
        "<h1>{} — <span id=\"case-id\">{}</span></h1>\n<p class=\"meta\" id=\"whatif-versions\">{} <strong>{}</strong> {} {}</p>\n",
        word("whatif.title"),
        esc(&w.case),
        word("whatif.under"),
        esc(&w.workflow_whatif),
        word("whatif.instead_of"),
        esc(&w.workflow_now),
    );
    body.push_str(&format!(
        "<table class=\"clocks\" id=\"whatif\">\n<thead><tr><th></th><th>{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        word("whatif.now"),
        word("whatif.title")
    ));
    for (key, what, now, whatif) in rows {
        body.push_str(&format!(
            "<tr data-what=\"{}\"><td>{what}</td><td>{now}</td><td><strong>{whatif}</strong></td></tr>\n",
            esc(&key)
        ));
    }
    body.push_str("</tbody>\n</table>\n");
    if w.differences.is_empty() {
        body.push_str(&format!(
            "<p class=\"meta\" id=\"whatif-same\">{}</p>\n",
            word("whatif.nothing")
        ));
    }
    body.push_str(&format!(
        "<p class=\"meta\">{}</p>\n<p><a href=\"/cases/{}\">{}</a></p>\n",
        word("whatif.nothing_written"),
        crate::web::page::encode(&w.case),
        esc(&w.case)
    ));
    let title = format!("{} — {}", lb.get("whatif.title"), w.case);
    Page::of(lang, &c, title, format!("/cases/{id}")).finish(&app, body, StatusCode::OK)
}
