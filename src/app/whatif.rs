//! What if (issue 26 part 3): a case's recorded events replayed under another version
//! of the law (a workflow version such as `fr@omnibus-proposal`, another way of
//! counting periods, another assessment rule set), beside what the case pinned. Nothing
//! is written: the case is folded in memory, from the events as recorded.

use super::{App, AppError};
use crate::assess::{Assessment, Rules};
use crate::case::clock::{ClockStatus, applies_in, due_at};
use crate::case::{Case, EventBody, Met, Recorded, clocks, evolve};
use crate::counting::Counting;
use crate::store::{Loaded, Store};
use crate::time;
use crate::workflow::Workflow;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;

/// What to change: each None keeps what the case has.
#[derive(Debug, Clone, Default)]
pub struct WhatIfRequest {
    /// A workflow key: `fr@omnibus-proposal`, `fr@2018-05-25`, `be`.
    pub workflow: Option<String>,
    /// `eu_1182_71` or `conservative`, for every clock.
    pub counting: Option<String>,
    /// An assessment rules file (a path) or the name of a shipped one
    /// (`rules/assessment-omnibus-proposal.yaml`).
    pub rules: Option<String>,
}

/// One thing that differs: what it is, as the case has it, and what if.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Difference {
    /// In words (`art33 deadline`, `recommended risk`).
    pub what: String,
    /// The clock it is about, if any, and what of it: `deadline`, `status`, `risk`,
    /// `notify_authority`, `inform_individuals`.
    pub clock: Option<String>,
    pub kind: &'static str,
    pub now: String,
    pub whatif: String,
}

/// One case under the other law.
#[derive(Debug, Clone, Serialize)]
pub struct CaseWhatIf {
    pub case: String,
    pub title: String,
    /// The workflow the case pinned, and the one it is replayed under (`id@version`).
    pub workflow_now: String,
    pub workflow_whatif: String,
    pub rules_now: Option<String>,
    pub rules_whatif: Option<String>,
    pub timezone: String,
    /// The authority's deadline (the clock its notification meets), whether it applies
    /// or not, in the workflow's zone with its offset.
    pub authority_deadline_now: Option<String>,
    pub authority_deadline_whatif: Option<String>,
    /// Whether notifying the authority is required (its clock applies).
    pub authority_required_now: bool,
    pub authority_required_whatif: bool,
    /// Every deadline, status and recommendation that differs.
    pub differences: Vec<Difference>,
}

/// The other law, resolved once for many cases.
struct Other {
    /// None: the case's own workflow (with `counting` applied when given).
    workflow: Option<Arc<Workflow>>,
    counting: Option<Counting>,
    rules: Option<String>,
}

impl App {
    /// One case of `org` under the other law.
    pub fn whatif(
        &self,
        store: &mut Store,
        org: &str,
        id: &str,
        req: &WhatIfRequest,
        now: DateTime<Utc>,
    ) -> Result<CaseWhatIf, AppError> {
        let other = self.other(req)?;
        let l = self.case(store, org, id)?;
        self.whatif_of(&l, &other, now)
    }

    /// Every case of `org` (closed ones too), in the order `case list --all` gives.
    pub fn whatif_all(
        &self,
        store: &mut Store,
        org: &str,
        req: &WhatIfRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseWhatIf>, AppError> {
        let other = self.other(req)?;
        let (cases, _) = self.cases(store, org, true, now)?;
        let mut out = Vec::new();
        for l in &cases {
            out.push(self.whatif_of(l, &other, now)?);
        }
        out.sort_by(|a, b| a.case.cmp(&b.case));
        Ok(out)
    }

    fn other(&self, req: &WhatIfRequest) -> Result<Other, AppError> {
        let blank = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let (w, c, r) = (
            blank(&req.workflow),
            blank(&req.counting),
            blank(&req.rules),
        );
        if w.is_none() && c.is_none() && r.is_none() {
            return Err(AppError::Input(
                "whatif: name what to change: --workflow ID@VERSION, --counting eu_1182_71 or --rules FILE".into(),
            ));
        }
        let workflow = match w {
            None => None,
            Some(k) => Some(self.workflows.get(&k).ok_or_else(|| {
                AppError::Input(format!(
                    "workflow: unknown workflow {} (known: {})",
                    crate::util::quote(&k),
                    self.workflows.keys().join(", ")
                ))
            })?),
        };
        let counting = match c {
            None => None,
            Some(s) => Some(Counting::parse(&s).ok_or_else(|| {
                AppError::Input(format!(
                    "counting: unknown way of counting {} (known: conservative, eu_1182_71)",
                    crate::util::quote(&s)
                ))
            })?),
        };
        // The rules are compiled against each case's workflow; checked here once
        // against the workflow named (or the first known) so a bad file is one error.
        if let Some(name) = &r {
            let wf = workflow.clone().or_else(|| {
                self.workflows
                    .ids()
                    .next()
                    .and_then(|i| self.workflows.get(i))
            });
            if let Some(wf) = wf {
                rules_named(name, &wf)?;
            }
        }
        Ok(Other {
            workflow,
            counting,
            rules: r,
        })
    }

    fn whatif_of(
        &self,
        l: &Loaded,
        other: &Other,
        now: DateTime<Utc>,
    ) -> Result<CaseWhatIf, AppError> {
        let base = &l.workflow;
        // A version named for another jurisdiction (`fr@omnibus-proposal` on a Belgian
        // case, in `--all`) means the same version of the case's own workflow.
        let chosen = match &other.workflow {
            None => base.clone(),
            Some(w) if w.id == base.id => w.clone(),
            Some(w) => {
                let own = w.version.as_ref().map(|v| format!("{}@{v}", base.id));
                own.as_deref()
                    .and_then(|k| self.workflows.get(k))
                    .ok_or_else(|| {
                        AppError::Input(format!(
                            "workflow: case {} follows workflow {}, which has no version {}",
                            crate::util::quote(&l.case.id),
                            crate::util::quote(&base.id),
                            crate::util::quote(w.version.as_deref().unwrap_or(&w.id))
                        ))
                    })?
            }
        };
        let wf: Arc<Workflow> = match other.counting {
            None => chosen,
            Some(counting) => Arc::new(with_counting(&chosen, counting)?),
        };
        let replayed = replay(&wf, &l.events).unwrap_or_else(|| l.case.clone());
        let rules_now = self.workflows.rules(&base.id);
        let rules_whatif = match &other.rules {
            Some(name) => Some(Arc::new(rules_named(name, &wf)?)),
            None if other.workflow.is_some() => self.workflows.rules(&wf.key()),
            None => rules_now.clone(),
        };
        let assess = |rules: &Option<Arc<Rules>>, wf: &Workflow, case: &Case| {
            rules.as_ref().map(|r| {
                let labels = crate::assess::Ids;
                crate::assess::assess(r, &case.facts, &case.tracks, wf.lang, &labels)
            })
        };
        let a_now = assess(&rules_now, base, &l.case);
        let a_whatif = assess(&rules_whatif, &wf, &replayed);
        let (dl_now, req_now) = authority(base, &l.case);
        let (dl_whatif, req_whatif) = authority(&wf, &replayed);
        let mut differences = clock_differences(base, &l.case, &wf, &replayed, now);
        recommendation_differences(a_now.as_ref(), a_whatif.as_ref(), &mut differences);
        let show =
            |d: Option<DateTime<Utc>>, wf: &Workflow| d.map(|d| time::short_in(d, wf.timezone));
        Ok(CaseWhatIf {
            case: l.case.id.clone(),
            title: l.case.title.clone(),
            workflow_now: base.key(),
            workflow_whatif: wf.key(),
            rules_now: rules_now.map(|r| r.version.clone()),
            rules_whatif: rules_whatif.map(|r| r.version.clone()),
            timezone: wf.timezone.name().to_string(),
            authority_deadline_now: show(dl_now, base),
            authority_deadline_whatif: show(dl_whatif, &wf),
            authority_required_now: req_now,
            authority_required_whatif: req_whatif,
            differences,
        })
    }
}

/// A rules file by path, else a shipped one by name, compiled against `wf`.
fn rules_named(name: &str, wf: &Workflow) -> Result<Rules, AppError> {
    let path = Path::new(name);
    let (origin, text) = if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AppError::Input(format!("rules: {}: cannot read: {e}", path.display())))?;
        (path.display().to_string(), text)
    } else if let Some((n, t)) = crate::catalog::EMBEDDED_RULES
        .iter()
        .find(|(n, _)| *n == name)
    {
        (format!("embedded:{n}"), t.to_string())
    } else {
        return Err(AppError::Input(format!(
            "rules: no file {} (give a path, or one of: {})",
            crate::util::quote(name),
            crate::catalog::EMBEDDED_RULES
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let folder = path
        .parent()
        .filter(|_| path.is_file())
        .map(Path::to_path_buf);
    let base = |n: &str| match &folder {
        Some(d) => std::fs::read_to_string(d.join(n)).ok(),
        None => crate::catalog::EMBEDDED_RULES
            .iter()
            .find(|(e, _)| *e == format!("rules/{n}"))
            .map(|(_, t)| t.to_string()),
    };
    let first =
        |e: crate::workflow::WorkflowError| AppError::Input(crate::util::one_line(&e.to_string()));
    let text = crate::catalog::resolve_extends(&origin, &text, &base).map_err(first)?;
    crate::assess::compile_rules(&origin, &text, wf)
        .map_err(|e| first(e.into_iter().next().expect("an error")))
}

/// `wf` with every clock counted `counting`'s way.
fn with_counting(wf: &Workflow, counting: Counting) -> Result<Workflow, AppError> {
    let mut w = crate::workflow::compile(&wf.origin, &wf.source)
        .map_err(|e| AppError::Input(crate::util::one_line(&e.to_string())))?;
    for c in w.clocks.values_mut() {
        c.counting = counting;
    }
    Ok(w)
}

/// The case's events folded under `wf`, each clock met again under `wf`'s terms (the
/// due time and lateness frozen in the log are the pinned workflow's).
pub fn replay(wf: &Workflow, events: &[Recorded]) -> Option<Case> {
    let mut case: Option<Case> = None;
    for ev in events {
        let mut bare = ev.clone();
        if let EventBody::Advanced { met, .. } = &mut bare.body {
            met.clear();
        }
        let mut c = evolve(wf, case.take(), &bare);
        if let EventBody::Advanced { event, .. } = &ev.body {
            for (id, clock) in wf.clocks_met_by(event) {
                if c.met.contains_key(id) {
                    continue;
                }
                let applies = applies_in(wf, id, clock, &c);
                let due = due_at(wf, clock, &c);
                let m = Met {
                    event: event.clone(),
                    at: ev.at,
                    applies,
                    due_at: due,
                    late: applies && due.is_some_and(|d| ev.at > d),
                };
                c.met.insert(id.clone(), m);
            }
        }
        case = Some(c);
    }
    case
}

/// The authority's deadline (whether its clock applies or not) and whether it applies.
fn authority(wf: &Workflow, case: &Case) -> (Option<DateTime<Utc>>, bool) {
    let event = wf
        .intake
        .as_ref()
        .and_then(|i| i.form_event.clone())
        .unwrap_or_else(|| "notify_authority".into());
    let Some((id, clock)) = wf.clocks_met_by(&event).next() else {
        return (None, false);
    };
    let applies = match case.met.get(id) {
        Some(m) => m.applies || applies_in(wf, id, clock, case),
        None => applies_in(wf, id, clock, case),
    };
    (due_at(wf, clock, case), applies)
}

fn status_word(s: ClockStatus) -> &'static str {
    s.as_str()
}

/// Each clock whose deadline or status differs (a clock only one side has, too).
fn clock_differences(
    a_wf: &Workflow,
    a: &Case,
    b_wf: &Workflow,
    b: &Case,
    now: DateTime<Utc>,
) -> Vec<Difference> {
    let va = clocks(a_wf, a, now);
    let vb = clocks(b_wf, b, now);
    let mut ids: Vec<&String> = va.iter().map(|v| &v.id).collect();
    ids.extend(
        vb.iter()
            .map(|v| &v.id)
            .filter(|i| !va.iter().any(|v| &v.id == *i)),
    );
    let mut out = Vec::new();
    for id in ids {
        let x = va.iter().find(|v| &v.id == id);
        let y = vb.iter().find(|v| &v.id == id);
        let due = |v: Option<&crate::case::ClockView>, wf: &Workflow, case: &Case| {
            // The deadline the law sets, whether the clock applies or not.
            let def = wf.clocks.get(id)?;
            v.and_then(|v| v.due_at)
                .or_else(|| due_at(wf, def, case))
                .map(|d| time::short_in(d, wf.timezone))
        };
        let (dx, dy) = (due(x, a_wf, a), due(y, b_wf, b));
        let dash = |s: Option<String>| s.unwrap_or_else(|| "—".into());
        if dx != dy {
            out.push(Difference {
                what: format!("{id} deadline"),
                clock: Some(id.clone()),
                kind: "deadline",
                now: dash(dx),
                whatif: dash(dy),
            });
        }
        let (sx, sy) = (x.map(|v| v.status), y.map(|v| v.status));
        if sx != sy {
            out.push(Difference {
                what: format!("{id} status"),
                clock: Some(id.clone()),
                kind: "status",
                now: dash(sx.map(|s| status_word(s).to_string())),
                whatif: dash(sy.map(|s| status_word(s).to_string())),
            });
        }
    }
    out
}

/// The assessment's risk and the two duties, where they differ.
fn recommendation_differences(
    a: Option<&Assessment>,
    b: Option<&Assessment>,
    out: &mut Vec<Difference>,
) {
    let yes = |b: bool| if b { "yes" } else { "no" }.to_string();
    let rows = |x: Option<&Assessment>| {
        x.map(|x| {
            [
                x.risk.as_str().to_string(),
                yes(x.notify_authority),
                yes(x.inform_individuals),
            ]
        })
    };
    let (ra, rb) = (rows(a), rows(b));
    let names = [
        ("recommended risk", "risk"),
        ("recommended: notify the authority", "notify_authority"),
        ("recommended: inform the people", "inform_individuals"),
    ];
    for (i, (what, kind)) in names.iter().enumerate() {
        let x = ra.as_ref().map(|r| r[i].clone());
        let y = rb.as_ref().map(|r| r[i].clone());
        if x != y {
            out.push(Difference {
                what: what.to_string(),
                clock: None,
                kind,
                now: x.unwrap_or_else(|| "—".into()),
                whatif: y.unwrap_or_else(|| "—".into()),
            });
        }
    }
}
