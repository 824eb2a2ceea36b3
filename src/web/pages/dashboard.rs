//! The open cases, nearest deadline first, with live countdowns (kept frames: `page_cache`).

use super::{checked, class_of, clock_view, left_text};
use crate::case::{ClockStatus, ClockView, clocks};
use crate::time::{self, Lang};
use crate::web::form::PageCtx;
use crate::web::page::{Page, error_page, render_body, word};
use crate::web::page_cache::{DashVersion, Frame, Listed};
use crate::web::{App, Caller, WebError};
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Duration;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

#[derive(Deserialize)]
pub(super) struct PageQuery {
    page: Option<String>,
}

/// Open cases per page of the dashboard: the most urgent first, then by page.
pub const DASHBOARD_PAGE: usize = 50;

pub(super) async fn dashboard(ctx: PageCtx, Query(q): Query<PageQuery>) -> Response {
    let PageCtx {
        app,
        caller: c,
        lang,
    } = ctx;
    // A page number that is not one is the first page (an old bookmark, a typo).
    let page = q.page.and_then(|p| p.trim().parse::<usize>().ok());
    let caller = c.clone();
    match app
        .read(move |app, store| dashboard_body(app, store, &caller, lang, page))
        .await
    {
        Ok((frame, values, page)) => {
            let here = if page > 1 {
                format!("/?page={page}")
            } else {
                "/".into()
            };
            Page::of(lang, &c, word(lang, "dashboard"), here).finish_with(
                &app,
                frame.text_len(),
                |out| frame.fill_into(out, &values),
                StatusCode::OK,
            )
        }
        Err(e) => error_page(&app, lang, &c, e),
    }
}

/// The dashboard's body (a frame and the values of its slots) and the page number
/// shown: from the kept frame when the
/// organisation's open cases and the clocks' classes are unchanged, else rendered.
/// Per request it costs one query listing the open cases' last events, and the clocks
/// of the cases on the page moved to now (`ClockView::as_of`).
pub(super) fn dashboard_body(
    app: &App,
    store: &mut crate::store::Store,
    c: &Caller,
    lang: Lang,
    page: Option<usize>,
) -> Result<(Arc<Frame>, Vec<String>, usize), WebError> {
    let org = &c.user.org;
    let now = time::now();
    let cache = &app.page_cache;
    let mut heads: Vec<(String, i64, String)> = store
        .backend()
        .heads(Some(org))?
        .into_iter()
        .filter(|h| !h.closed)
        .map(|h| (h.id, h.seq, h.last_hash))
        .collect();
    heads.sort();
    let list = match cache.list(org, &heads) {
        Some(l) => l,
        None => {
            let (cases, unreadable) = app.core.cases(store, org, false, now)?;
            crate::web::log_unreadable(org, &unreadable);
            let rows: Vec<Listed> = cases
                .into_iter()
                .map(|l| {
                    let clocks = clocks(&l.workflow, &l.case, now);
                    let nearest = crate::case::clock::nearest_due(&clocks);
                    Listed {
                        loaded: l,
                        clocks,
                        nearest,
                    }
                })
                .collect();
            let mut read: Vec<(String, i64, String)> = rows
                .iter()
                .map(|r| {
                    let case = &r.loaded.case;
                    (case.id.clone(), case.seq, case.last_hash.clone())
                })
                .collect();
            read.sort();
            // A write between the two reads: show what was read, keep nothing.
            if read == heads && unreadable.is_empty() {
                cache.keep_list(org, heads, rows)
            } else {
                Arc::new(crate::web::page_cache::OrgList {
                    generation: 0,
                    heads: read,
                    rows,
                })
            }
        }
    };
    let total = list.rows.len();
    let pages = total.div_ceil(DASHBOARD_PAGE).max(1);
    let page = page.unwrap_or(1).clamp(1, pages);
    let shown = &list.rows[(page - 1) * DASHBOARD_PAGE..(page * DASHBOARD_PAGE).min(total)];
    // Sorted by nearest due time (None last): the overdue, then the due-soon, come first.
    let overdue = list
        .rows
        .partition_point(|r| r.nearest.is_some_and(|d| d <= now));
    let soon = list
        .rows
        .partition_point(|r| r.nearest.is_some_and(|d| d - now < Duration::hours(24)))
        - overdue;
    // The clocks shown, as of now; what changes with time is the version (classes, the
    // counts) or a slot (the countdowns).
    let views: Vec<Vec<ClockView>> = shown
        .iter()
        .map(|r| {
            r.clocks
                .iter()
                .filter(|v| v.status != ClockStatus::NotApplicable)
                .map(|v| v.as_of(now))
                .collect()
        })
        .collect();
    let mut phase = format!("{overdue}/{soon}:");
    for row in &views {
        for v in row {
            phase.push_str(class_of(v, now));
            phase.push(',');
        }
        phase.push(';');
    }
    // Nobody to send the organisation's reminders to: say so, and how to set one (issue 13).
    let no_recipient = app
        .core
        .profile(store, org)?
        .reminder_recipients()
        .is_empty();
    phase.push_str(if no_recipient { "no_recipient" } else { "" });
    let role = c.user.role.as_str();
    let version = DashVersion {
        generation: list.generation,
        phase,
    };
    let next_of = |row: &[ClockView]| -> Option<usize> {
        row.iter()
            .enumerate()
            .filter(|(_, v)| {
                matches!(v.status, ClockStatus::Pending | ClockStatus::Overdue)
                    && v.due_at.is_some()
            })
            .min_by_key(|(_, v)| v.due_at)
            .map(|(i, _)| i)
    };
    // Slots: 0 the CSRF token, then per row its next countdown and each chip's.
    let mut values = vec![c.csrf.clone().unwrap_or_default()];
    let mut slot_of = Vec::with_capacity(views.len());
    for row in &views {
        let base = values.len();
        slot_of.push(base);
        values.push(
            next_of(row)
                .map(|i| left_text(&row[i], now, lang))
                .unwrap_or_default(),
        );
        values.extend(row.iter().map(|v| left_text(v, now, lang)));
    }
    let kept = match list.generation {
        0 => None,
        _ => cache.dashboard(org, lang, role, page, &version),
    };
    if let Some(f) = &kept
        && !cache.check
    {
        return Ok((f.clone(), values, page));
    }
    let m = &cache.marks;
    let mut rows = Vec::with_capacity(shown.len());
    for ((r, row), base) in shown.iter().zip(&views).zip(&slot_of) {
        let wf = &r.loaded.workflow;
        let lb = app.labels(wf, lang)?;
        rows.push(json!({
            "id": r.loaded.case.id,
            "title": r.loaded.case.title,
            "next": next_of(row).map(|i| clock_view(wf, &lb, &row[i], now, lang, m.slot(*base))),
            "clocks": row.iter().enumerate()
                .map(|(i, v)| clock_view(wf, &lb, v, now, lang, m.slot(base + 1 + i)))
                .collect::<Vec<_>>(),
        }));
    }
    let paging = (pages > 1).then(|| {
        json!({
            "page": page, "pages": pages, "total": total,
            "from": (page - 1) * DASHBOARD_PAGE + 1, "to": (page * DASHBOARD_PAGE).min(total),
            "prev": (page > 1).then(|| page - 1),
            "next": (page < pages).then(|| page + 1),
        })
    });
    let view = json!({
        "cases": rows,
        // Counts in words a person reads right: a zero is not red, one case is singular.
        "summary": (total > 0).then(|| json!({
            "overdue": overdue, "soon": soon, "total": total,
            "overdue_class": if overdue > 0 { "st-overdue" } else { "st-none" },
            "soon_class": if soon > 0 { "st-soon" } else { "st-none" },
            "open_word": word(lang, if total == 1 { "dash_open_one" } else { "dash_open" }),
        })),
        "paging": paging,
        "no_recipient": no_recipient,
        "is_dpo": c.user.role.is_dpo(),
    });
    let frame = Arc::new(m.frame(&render_body(app, "dashboard", view, lang)?));
    if let Some(f) = kept {
        checked(&f, &frame, "dashboard")?;
    }
    if list.generation != 0 {
        cache.keep_dashboard(org, lang, role, page, version, frame.clone());
    }
    Ok((frame, values, page))
}
