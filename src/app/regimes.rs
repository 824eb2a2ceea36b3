//! Which regimes apply to a case, as every output shows it (issue 21 part 3, issue 22
//! C7): the clocks, steps and documents of a regime that does not apply are left out of
//! `case show`, the case page, the dashboard, reminders and drafts.
//!
//! Where the answers come from: a new case takes the organisation's profile answers
//! (`nis2_entity`, `dora_entity`, `cra_manufacturer`, `cyber_insured`) as facts, in its
//! own log, marked as taken from the profile (`App::open_case`). A fact set on the case
//! wins. Changing the profile later changes new cases only: an open case keeps what its
//! log says, so the register an inspector reads never changes behind the DPO's back.

use super::AppError;
use crate::case::{Case, ClockView, regime};
use crate::workflow::Workflow;

/// The regimes that do not apply to the case, by id.
pub fn not_applicable(wf: &Workflow, case: &Case) -> Vec<String> {
    regime::not_applicable(wf, case)
        .into_iter()
        .cloned()
        .collect()
}

/// The clocks to show: all, except those of a regime that does not apply (unless one
/// was met before it was found not to apply: the log keeps what was done).
pub fn shown_clocks(wf: &Workflow, case: &Case, views: Vec<ClockView>) -> Vec<ClockView> {
    views
        .into_iter()
        .filter(|v| v.met_at.is_some() || regime::clock_in_force(wf, &v.id, case))
        .collect()
}

/// The documents that can be drafted for the case: all, except those of a regime that
/// does not apply.
pub fn shown_documents(wf: &Workflow, case: &Case) -> Vec<String> {
    wf.documents
        .keys()
        .filter(|d| {
            wf.regime_of_document(d)
                .is_none_or(|(_, r)| regime::in_force(r, case))
        })
        .cloned()
        .collect()
}

/// Whether `document` may be drafted for the case: refused when its regime does not
/// apply; `Ok(Some(warning))`, one line, when the case does not say whether it applies.
pub fn check_document(
    wf: &Workflow,
    case: &Case,
    document: &str,
) -> Result<Option<String>, AppError> {
    let Some((id, r)) = wf.regime_of_document(document) else {
        return Ok(None);
    };
    match regime::status(r, case) {
        Some(true) => Ok(None),
        Some(false) => Err(AppError::Input(format!(
            "draft {}: regime {} does not apply to case {} ({}); if it does, set that fact on the case",
            crate::util::quote(document),
            crate::util::quote(id),
            crate::util::quote(&case.id),
            regime::why(r, case)
        ))),
        None => Ok(Some(format!(
            "warning: case {} does not say whether regime {} applies ({}): check before sending this draft",
            crate::util::quote(&case.id),
            crate::util::quote(id),
            regime::why(r, case)
        ))),
    }
}
