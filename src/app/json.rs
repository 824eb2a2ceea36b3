//! The JSON shape of a case, of its clocks and events: a public contract, the same for
//! `vigie case show --json`, `vigie case list --json` and the HTTP API.

use crate::assess::assessment_json;
use crate::case::{
    Case, ClockStatus, ClockView, EventBody, Recorded, backdating_text, clock::nearest_due, clocks,
};
use crate::time;
use crate::workflow::Workflow;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::fmt::Write;

fn at(d: Option<DateTime<Utc>>, wf: &Workflow) -> Value {
    d.map(|d| Value::String(time::rfc3339_in(d, wf.timezone)))
        .unwrap_or(Value::Null)
}

pub fn clock_json(wf: &Workflow, c: &ClockView, now: DateTime<Utc>) -> Value {
    let mut v = json!({
        "id": c.id,
        "title": c.title,
        "basis": c.basis,
        "applies": c.applies,
        "internal": c.internal,
        "started_at": at(c.started_at, wf),
        "due_at": at(c.due_at, wf),
        "status": c.status.as_str(),
        "met_at": at(c.met_at, wf),
        "anchor": c.anchor,
    });
    if let Some(corrected) = c.corrected_due_at {
        v["corrected_due_at"] = at(Some(corrected), wf);
    }
    if let (Some(due), ClockStatus::Pending | ClockStatus::Overdue) = (c.due_at, c.status) {
        v["seconds_left"] = json!((due - now).num_seconds());
    }
    v
}

/// One event of `case show --json` (and of `GET /api/cases/{id}/events`).
pub fn event_json(wf: &Workflow, e: &Recorded) -> Value {
    let mut v = json!({
        "seq": e.seq,
        "kind": e.body.kind(),
        "at": time::rfc3339_in(e.at, wf.timezone),
        "recorded_at": time::rfc3339_in(e.recorded_at, wf.timezone),
        "actor": e.actor,
        "hash": e.hash,
    });
    // Recorded more than 24 h after its date: said, with the reason, for every view.
    if let Some(reason) = e.backdated() {
        v["backdated"] = json!({
            "reason": reason,
            "text": backdating_text(e, wf.timezone),
        });
    }
    let facts_display = |facts: &Map<String, Value>| -> Value {
        let mut out = Map::new();
        for (k, val) in facts {
            let shown = wf
                .facts
                .get(k)
                .and_then(|d| d.from_stored(val))
                .map(|fv| fv.to_display_json(wf.timezone))
                .unwrap_or(Value::Null);
            out.insert(k.clone(), shown);
        }
        Value::Object(out)
    };
    match &e.body {
        EventBody::Opened {
            workflow,
            workflow_hash,
            title,
            facts,
        } => {
            v["workflow"] = json!(workflow);
            v["workflow_hash"] = json!(workflow_hash);
            v["title"] = json!(title);
            v["facts"] = facts_display(facts);
        }
        EventBody::FactsSet {
            facts,
            note,
            from_profile,
            ..
        } => {
            v["facts"] = facts_display(facts);
            v["note"] = json!(note);
            if *from_profile {
                v["from_profile"] = json!(true);
            }
        }
        EventBody::Advanced {
            event,
            track,
            from,
            to,
            facts,
            note,
            met,
            assessment,
            submission,
            ..
        } => {
            v["event"] = json!(event);
            if let Some(a) = assessment {
                v["assessment"] = a.clone();
            }
            if let Some(sub) = submission {
                v["submission"] = json!(sub);
            }
            v["track"] = json!(track);
            v["from"] = json!(from);
            v["to"] = json!(to);
            if !facts.is_empty() {
                v["facts"] = facts_display(facts);
            }
            v["note"] = json!(note);
            if !met.is_empty() {
                v["met"] = met
                    .iter()
                    .map(|m| {
                        json!({
                            "clock": m.clock,
                            "applies": m.applies,
                            "due_at": at(m.due_at, wf),
                            "late": m.late,
                        })
                    })
                    .collect();
            }
        }
        EventBody::NotificationCampaign(run) => {
            if let Value::Object(fields) = json!(run) {
                for (k, f) in fields {
                    v[k] = f;
                }
            }
        }
        EventBody::DocumentIssued {
            document,
            lang,
            format,
            sha256,
        } => {
            v["document"] = json!(document);
            v["lang"] = json!(lang);
            v["format"] = json!(format);
            v["sha256"] = json!(sha256);
        }
    }
    v
}

/// The `case show --json` object.
pub fn case_json(wf: &Workflow, case: &Case, events: &[Recorded], now: DateTime<Utc>) -> Value {
    let views = clocks(wf, case, now);
    let facts: Map<String, Value> = case
        .facts
        .iter()
        .map(|(k, v)| (k.clone(), v.to_display_json(wf.timezone)))
        .collect();
    json!({
        "id": case.id,
        "workflow": wf.id,
        "workflow_hash": wf.hash,
        "workflow_version": wf.version,
        "timezone": wf.timezone.name(),
        "title": case.title,
        "opened_at": time::rfc3339_in(case.opened_at, wf.timezone),
        "closed": case.is_closed(wf),
        "as_of": time::rfc3339_in(now, wf.timezone),
        "tracks": case.tracks,
        "facts": facts,
        "clocks": views.iter().map(|c| clock_json(wf, c, now)).collect::<Vec<_>>(),
        "next_due": at(nearest_due(&views), wf),
        "events": events.iter().map(|e| event_json(wf, e)).collect::<Vec<_>>(),
        "allowed": allowed_events(wf, case),
        "not_applicable": super::regimes::not_applicable(wf, case),
        "seq": case.seq,
    })
}

/// One line of `case list --json` (and of `GET /api/cases`).
pub fn summary_json(wf: &Workflow, case: &Case, now: DateTime<Utc>) -> Value {
    let views = clocks(wf, case, now);
    json!({
        "id": case.id,
        "workflow": wf.id,
        "title": case.title,
        "closed": case.is_closed(wf),
        "next_due": at(nearest_due(&views), wf),
        "overdue": views.iter().filter(|v| v.status == ClockStatus::Overdue).map(|v| v.id.clone()).collect::<Vec<_>>(),
        "seq": case.seq,
    })
}

/// The events whose track is in one of their `from` states now, except those of a
/// regime that does not apply to the case; on a closed case, only the follow-ups of a
/// step already taken (a complementary notification, a final report), never the start
/// of a new obligation (an early warning on a track still in its initial state).
pub fn allowed_events(wf: &Workflow, case: &Case) -> Vec<String> {
    let closed = case.is_closed(wf);
    wf.events
        .iter()
        .filter(|(_, e)| {
            case.tracks
                .get(&e.track)
                .is_some_and(|s| e.from.contains(s))
        })
        .filter(|(n, _)| crate::case::regime::event_in_force(wf, n, case))
        .filter(|(_, e)| {
            !closed
                || wf
                    .tracks
                    .get(&e.track)
                    .is_some_and(|t| case.tracks.get(&e.track) != Some(&t.initial))
        })
        .map(|(n, _)| n.clone())
        .collect()
}

/// One line saying what an event did, for the timeline.
pub fn event_summary(e: &Recorded) -> String {
    match &e.body {
        EventBody::Opened { .. } => "opened".to_string(),
        EventBody::FactsSet {
            facts,
            from_profile,
            ..
        } => {
            let mut s = format!(
                "set {}",
                facts.keys().cloned().collect::<Vec<_>>().join(", ")
            );
            if *from_profile {
                s.push_str(" (from the organisation's profile)");
            }
            s
        }
        EventBody::Advanced {
            event,
            from,
            to,
            met,
            submission,
            ..
        } => {
            let late: Vec<&str> = met
                .iter()
                .filter(|m| m.late)
                .map(|m| m.clock.as_str())
                .collect();
            let mut s = format!("{event} ({from} → {to})");
            if !late.is_empty() {
                let _ = write!(s, " LATE for {}", late.join(", "));
            }
            if let Some(sub) = submission {
                let _ = write!(s, " {}", crate::app::submission::summary(sub));
            }
            s
        }
        EventBody::NotificationCampaign(c) => format!(
            "notification campaign {} ({}): {} sent, {} failed, {} rejected; {} notified in all",
            c.campaign, c.channel, c.sent, c.failed, c.rejected, c.total_sent
        ),
        EventBody::DocumentIssued {
            document, sha256, ..
        } => {
            format!("issued {document} sha256:{}", &sha256[..12])
        }
    }
}

/// [`event_summary`] in the reader's language (issue 21 part 6), for the web timeline
/// and the history: every id by its label (facts, events, states, clocks, documents),
/// e.g. "Confinement (Incident détecté → Incident confiné)".
pub fn event_summary_in(wf: &Workflow, e: &Recorded, labels: &crate::render::Labels) -> String {
    let lang = labels.lang();
    let colon = match lang {
        crate::time::Lang::Fr => " : ",
        _ => ": ",
    };
    match &e.body {
        EventBody::Opened { .. } => labels.get("event_opened").to_string(),
        EventBody::FactsSet {
            facts,
            from_profile,
            ..
        } => {
            let mut s = format!(
                "{}{colon}{}",
                labels.get("event_facts_set"),
                facts
                    .keys()
                    .map(|k| labels.get(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if *from_profile {
                let _ = write!(s, " ({})", labels.get("event_from_profile"));
            }
            s
        }
        EventBody::Advanced {
            event,
            track,
            from,
            to,
            met,
            ..
        } => {
            let late: Vec<&str> = met
                .iter()
                .filter(|m| m.late)
                .map(|m| labels.get(&m.clock))
                .collect();
            let state = |s: &str| labels.value(track, s).to_string();
            let mut s = format!("{} ({} → {})", labels.get(event), state(from), state(to));
            if !late.is_empty() {
                let _ = write!(s, ", {} {}", labels.get("event_late_for"), late.join(", "));
            }
            let _ = wf;
            s
        }
        EventBody::NotificationCampaign(c) => format!(
            "{}{colon}{} ({})",
            labels.get("event_campaign"),
            crate::render::group_digits(c.total_sent as i64, lang),
            c.channel
        ),
        EventBody::DocumentIssued {
            document, sha256, ..
        } => format!(
            "{}{colon}{} (SHA-256 {})",
            labels.get("event_issued"),
            labels.get(document),
            &sha256[..12.min(sha256.len())]
        ),
    }
}

/// `vigie assess CASE --json` and `GET /api/cases/{id}/assessment`: the assessment now
/// (`current`), the decision recorded last with the assessment frozen in it
/// (`recorded`, null before any), and whether the recommendation changed since
/// (`changed`: the facts or the rules moved; the recorded one is never rewritten), or
/// that it was decided without one (`decided_without_assessment`: an event recorded
/// before vigie froze assessments in decisions).
pub fn case_assessment_json(c: &super::assess::CaseAssessment) -> Value {
    let wf = &c.case.workflow;
    let current = assessment_json(wf, &c.current, &c.case.case.facts);
    let recorded = c.recorded.as_ref().map(|r| {
        json!({
            "seq": r.seq,
            "at": time::rfc3339_in(r.at, wf.timezone),
            "actor": r.actor,
            "risk": r.risk,
            "risk_rationale": r.rationale,
            "recommended_risk": r.recommended_risk(),
            "departs": r.departs(),
            "assessment": r.assessment,
        })
    });
    let changed = c.recorded.as_ref().is_some_and(|r| match &r.assessment {
        Some(frozen) => {
            [
                "risk",
                "notify_authority",
                "inform_individuals",
                "rules_version",
            ]
            .iter()
            .any(|k| frozen.get(*k) != current.get(*k))
                || frozen.pointer("/severity/score") != current.pointer("/severity/score")
        }
        // Recorded before assessments were frozen in decisions: nothing to compare with.
        None => false,
    });
    let without = c.recorded.as_ref().is_some_and(|r| r.assessment.is_none());
    json!({
        "case": c.case.case.id,
        "seq": c.case.case.seq,
        "current": current,
        "recorded": recorded,
        "changed": changed,
        "decided_without_assessment": without,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::MetClock;
    use crate::catalog::WorkflowSet;
    use crate::render::Templates;
    use crate::time::Lang;

    fn recorded(body: EventBody) -> Recorded {
        Recorded {
            org: "default".into(),
            case_id: "c1".into(),
            seq: 2,
            at: Utc::now(),
            recorded_at: Utc::now(),
            actor: "dpo".into(),
            body,
            payload: String::new(),
            prev_hash: String::new(),
            hash: "0".repeat(64),
        }
    }

    /// Issue 21 part 6: the history reads in the reader's language, with no raw id.
    #[test]
    fn event_summaries_are_in_the_readers_language() {
        let set = WorkflowSet::load(None).expect("the embedded workflows");
        let wf = set.get("fr").expect("fr");
        let mut facts = Map::new();
        facts.insert("aware_basis".into(), json!("Alerte"));
        let set_ev = recorded(EventBody::FactsSet {
            facts,
            note: None,
            from_profile: false,
            reason: None,
        });
        let contain = recorded(EventBody::Advanced {
            event: "contain".into(),
            track: "response".into(),
            from: "detected".into(),
            to: "contained".into(),
            facts: Map::new(),
            note: None,
            met: vec![],
            assessment: None,
            reason: None,
            submission: None,
        });
        let late = recorded(EventBody::Advanced {
            event: "notify_authority".into(),
            track: "authority".into(),
            from: "pending".into(),
            to: "notified".into(),
            facts: Map::new(),
            note: None,
            met: vec![MetClock {
                clock: "art33".into(),
                applies: true,
                due_at: None,
                late: true,
            }],
            assessment: None,
            reason: None,
            submission: None,
        });
        let cases = [
            (
                Lang::Fr,
                [
                    "Informations complétées : Éléments établissant la prise de connaissance",
                    "Confinement (Incident détecté → Incident confiné)",
                    "Notification à l'autorité de contrôle (Pas encore décidée → Notifiée), en retard pour Notification à l'autorité de contrôle sous 72 heures",
                ],
            ),
            (
                Lang::En,
                [
                    "Information updated: Grounds for awareness",
                    "Containment (Incident detected → Incident contained)",
                    "Notification to the supervisory authority (Not yet decided → Notified), late for Notification to the supervisory authority within 72 hours",
                ],
            ),
        ];
        for (lang, want) in cases {
            let labels = Templates::default().labels(&wf, lang).expect("labels");
            let got: Vec<String> = [&set_ev, &contain, &late]
                .iter()
                .map(|e| event_summary_in(&wf, e, &labels))
                .collect();
            assert_eq!(got, want, "{lang:?}");
        }
        // Dutch: no English id left.
        let nl = Templates::default().labels(&wf, Lang::Nl).expect("labels");
        let s = event_summary_in(&wf, &contain, &nl);
        assert!(!s.contains("contain") && !s.contains("detected"), "{s}");
        // The access log's lines too.
        let row = crate::store::backend::AccessRow {
            id: 0,
            org: "default".into(),
            case_id: Some("c1".into()),
            at: Utc::now(),
            actor: "dpo".into(),
            action: "view".into(),
            object: "draft".into(),
            detail: "cnil_notification".into(),
            address: "127.0.0.1".into(),
            via: "web".into(),
        };
        let fr = Templates::default().labels(&wf, Lang::Fr).expect("labels");
        assert_eq!(
            crate::app::issued::access_summary_in(&row, &fr),
            "Consultation : projet Notification à la CNIL, depuis 127.0.0.1 (web)"
        );
    }
}
