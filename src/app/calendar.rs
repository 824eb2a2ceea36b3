//! The calendar feed of an organisation's deadlines (issue 13): what `GET /calendar.ics`
//! and `vigie calendar` both write.
//!
//! Every deadline (a clock with a due time) of the organisation's cases that is pending
//! or overdue is a VEVENT; one that stopped running (met, no longer applying, or its
//! case closed) stays as `STATUS:CANCELLED` for [`KEEP_STOPPED_DAYS`] days after the
//! event that stopped it, so that subscribed calendars remove it, then leaves the feed.
//!
//! Everything is derived from the case's log, never from this process's memory, so two
//! instances answer the same bytes: the UID hashes (organisation, case, clock); the
//! SEQUENCE counts the events after which the clock's due time, or whether it runs,
//! changed; DTSTAMP is the recording time of the last such event.

use super::{App, AppError};
use crate::calendar::Deadline;
use crate::case::{Case, ClockStatus, clocks, evolve};
use crate::store::{Loaded, Store, Unreadable};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

/// How long a deadline that stopped running stays in the feed as cancelled.
pub const KEEP_STOPPED_DAYS: i64 = 30;

/// A feed, its deadlines' last change (for Last-Modified), and the cases left out
/// because they cannot be read back.
pub struct Feed {
    pub text: String,
    pub last_modified: Option<DateTime<Utc>>,
    pub unreadable: Vec<Unreadable>,
}

/// What the log says of one clock of a case.
#[derive(Default)]
struct History {
    sequence: u32,
    changed_at: Option<DateTime<Utc>>,
    /// The last due time it had while running.
    due: Option<DateTime<Utc>>,
    running: bool,
}

/// Folds the log one event at a time and follows each clock with a due time.
fn histories(l: &Loaded, now: DateTime<Utc>) -> BTreeMap<String, History> {
    let wf = &l.workflow;
    let mut out: BTreeMap<String, History> = BTreeMap::new();
    let mut case: Option<Case> = None;
    for ev in l.events.iter() {
        let c = evolve(wf, case.take(), ev);
        let closed = c.is_closed(wf);
        for v in clocks(wf, &c, now) {
            let running =
                !closed && matches!(v.status, ClockStatus::Pending | ClockStatus::Overdue);
            let due = v.due_at.filter(|_| running);
            match out.get_mut(&v.id) {
                None if due.is_some() => {
                    out.insert(
                        v.id.clone(),
                        History {
                            sequence: 0,
                            changed_at: Some(ev.recorded_at),
                            due,
                            running: true,
                        },
                    );
                }
                None => {}
                Some(h) => {
                    let now_running = due.is_some();
                    if now_running != h.running || (now_running && due != h.due) {
                        h.sequence += 1;
                        h.changed_at = Some(ev.recorded_at);
                        h.running = now_running;
                        if now_running {
                            h.due = due;
                        }
                    }
                }
            }
        }
        case = Some(c);
    }
    out
}

/// A deadline's UID: stable for (organisation, case, clock), whatever its due time.
pub fn uid(org: &str, case: &str, clock: &str) -> String {
    let h = crate::util::hash::sha256_hex(format!("vigie-calendar\n{org}\n{case}\n{clock}"));
    format!("{}@vigie", &h[..32])
}

/// The deadlines of one case.
fn deadlines_of(l: &Loaded, base_url: Option<&str>, now: DateTime<Utc>) -> Vec<Deadline> {
    let wf = &l.workflow;
    let case = &l.case;
    let views = clocks(wf, case, now);
    let mut out = Vec::new();
    for (id, h) in histories(l, now) {
        let (Some(due), Some(changed_at)) = (h.due, h.changed_at) else {
            continue;
        };
        if !h.running && now - changed_at > Duration::days(KEEP_STOPPED_DAYS) {
            continue;
        }
        let def = &wf.clocks[&id];
        let view = views.iter().find(|v| v.id == id);
        let title = view
            .map(|v| v.title.clone())
            .unwrap_or_else(|| def.title.clone());
        let url = base_url.map(|b| {
            let id: String = form_urlencoded::byte_serialize(case.id.as_bytes()).collect();
            format!("{}/cases/{id}", b.trim_end_matches('/'))
        });
        let mut description = format!("{} — {}\n{title}", case.id, case.title);
        if let Some(b) = def.basis.as_deref().filter(|b| !b.is_empty()) {
            description.push_str(&format!(" ({b})"));
        }
        description.push_str(&format!(
            "\n{}",
            crate::time::long_in(due, wf.timezone, wf.lang)
        ));
        if let Some(u) = &url {
            description.push_str(&format!("\n{u}"));
        }
        let mut alarms: Vec<DateTime<Utc>> = def
            .remind_before
            .iter()
            .map(|p| p.sub_from(due, wf.timezone))
            .collect();
        alarms.push(due);
        alarms.sort();
        alarms.dedup();
        out.push(Deadline {
            uid: uid(&case.org, &case.id, &id),
            sequence: h.sequence,
            changed_at,
            due,
            zone: wf.timezone,
            cancelled: !h.running,
            summary: format!("{title} — {}", case.id),
            description,
            url,
            alarms,
        });
    }
    out
}

impl App {
    /// The calendar of `org`'s deadlines, links to case pages under `base_url` when given.
    pub fn calendar(
        &self,
        store: &mut Store,
        org: &str,
        base_url: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Feed, AppError> {
        let name = match self.profile(store, org)?.name {
            Some(n) if !n.trim().is_empty() => n,
            _ => store
                .organisation_name(org)?
                .unwrap_or_else(|| org.to_string()),
        };
        let mut unreadable = Vec::new();
        let deadlines = self.org_deadlines(store, org, base_url, &mut unreadable, now)?;
        Ok(feed_of(&format!("vigie — {name}"), deadlines, unreadable))
    }

    fn org_deadlines(
        &self,
        store: &mut Store,
        org: &str,
        base_url: Option<&str>,
        unreadable: &mut Vec<Unreadable>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Deadline>, AppError> {
        let mut deadlines = Vec::new();
        for id in store.case_ids(org, true)? {
            if let Some(l) = self.listed(store, org, &id, unreadable)? {
                deadlines.extend(deadlines_of(&l, base_url, now));
            }
        }
        Ok(deadlines)
    }

    /// The portfolio calendar (issue 25 part 1): the deadlines of every organisation in
    /// `orgs` (the person's enabled memberships, read at each request), each named with
    /// its organisation, linking to the case through the portfolio (which switches the
    /// session to the case's organisation).
    pub fn portfolio_calendar(
        &self,
        store: &mut Store,
        orgs: &[String],
        base_url: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Feed, AppError> {
        let mut deadlines = Vec::new();
        let mut unreadable = Vec::new();
        for org in orgs {
            let name = match self.profile(store, org)?.name {
                Some(n) if !n.trim().is_empty() => n,
                _ => store
                    .organisation_name(org)?
                    .unwrap_or_else(|| org.to_string()),
            };
            let base = base_url.map(|b| {
                let o: String = form_urlencoded::byte_serialize(org.as_bytes()).collect();
                format!("{}/portfolio/{o}", b.trim_end_matches('/'))
            });
            for mut d in self.org_deadlines(store, org, base.as_deref(), &mut unreadable, now)? {
                d.summary = format!("{name} — {}", d.summary);
                d.description = format!("{name}\n{}", d.description);
                deadlines.push(d);
            }
        }
        Ok(feed_of("vigie — portfolio", deadlines, unreadable))
    }
}

fn feed_of(title: &str, mut deadlines: Vec<Deadline>, unreadable: Vec<Unreadable>) -> Feed {
    deadlines.sort_by(|a, b| (a.due, &a.uid).cmp(&(b.due, &b.uid)));
    let last_modified = deadlines.iter().map(|d| d.changed_at).max();
    Feed {
        text: crate::calendar::feed(title, &deadlines),
        last_modified,
        unreadable,
    }
}
