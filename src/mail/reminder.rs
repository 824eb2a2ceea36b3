//! A deadline reminder: subject with the time left ("J-1 : ..."), a plain-text and an
//! HTML part from the same template, what is still missing to meet the clock, the
//! command to run, and an `.ics` event with an alarm for the deadline.

use super::{MailError, mailbox};
use crate::case::{Case, ClockStatus, clocks};
use crate::org::Profile;
use crate::render::{Labels, RenderError, Templates};
use crate::store::backend::Claimed;
use crate::time::{self, Lang};
use crate::workflow::{FactValue, Scope, Workflow};
use chrono::{DateTime, Duration, Utc};
use handlebars::Handlebars;
use lettre::Message;
use lettre::message::{Attachment, MultiPart, header::ContentType};
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ReminderError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Mail(#[from] MailError),
    #[error(
        "the organisation has no recipient for reminders: set one with `vigie org set ORG --dpo-email ADDRESS` (or --reminders-to)"
    )]
    NoRecipient,
    #[error("none of the {0} recipient(s) is an e-mail address")]
    NoValidRecipient(usize),
    #[error("building the message: {0}")]
    Build(String),
}

/// Compiled reminder templates for one language.
pub struct ReminderTemplates {
    registry: Handlebars<'static>,
    html: Handlebars<'static>,
    lang: Lang,
}

impl ReminderTemplates {
    pub fn new(templates: &Templates, lang: Lang) -> Result<ReminderTemplates, RenderError> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        let mut html = Handlebars::new();
        html.set_strict_mode(true);
        html.register_escape_fn(crate::render::escape_markdown);
        for (name, file) in [
            ("subject", format!("reminder_subject.{}.hbs", lang.code())),
            ("body", format!("reminder.{}.md.hbs", lang.code())),
        ] {
            let src = templates.source(&file)?;
            for r in [&mut registry, &mut html] {
                r.register_template_string(name, src.as_ref())
                    .map_err(|e| RenderError::Template {
                        name: file.clone(),
                        message: e.to_string(),
                    })?;
            }
        }
        Ok(ReminderTemplates {
            registry,
            html,
            lang,
        })
    }
}

/// A reminder ready to hand off.
pub struct ReminderMail {
    pub message: Message,
    /// Every recipient, in order, as configured: the dispatcher reports by position the
    /// ones that are not addresses or that the server refuses.
    pub to: Vec<String>,
    pub message_id: String,
    pub subject: String,
}

/// "J-2", "H-6", "EN RETARD" / "D-2", "H-6", "OVERDUE" / "D-2", "H-6", "TE LAAT".
pub fn left_label(due: DateTime<Utc>, now: DateTime<Utc>, lang: Lang) -> String {
    let mins = (due - now).num_minutes();
    if mins <= 0 {
        return match lang {
            Lang::Fr => "EN RETARD".into(),
            Lang::En => "OVERDUE".into(),
            Lang::Nl => "TE LAAT".into(),
        };
    }
    let hours = (mins + 30) / 60;
    if hours >= 24 {
        let days = (hours + 12) / 24;
        match lang {
            Lang::Fr => format!("J-{days}"),
            Lang::En => format!("D-{days}"),
            // "dag": D-2 reads the same in Dutch.
            Lang::Nl => format!("D-{days}"),
        }
    } else if hours >= 1 {
        format!("H-{hours}")
    } else {
        format!("M-{mins}")
    }
}

/// Who receives a reminder: the organisation's reminder list (or its DPO), the case's
/// owners, and for an overdue reminder the escalation list. Deduplicated, order kept.
pub fn recipients(profile: &Profile, case: &Case, overdue: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |s: &str| {
        let s = s.trim();
        if !s.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            out.push(s.to_string());
        }
    };
    profile.reminder_recipients().iter().for_each(|t| add(t));
    if let Some(FactValue::List(owners)) = case.facts.get(crate::case::reminders::OWNERS) {
        owners.iter().for_each(|o| add(o));
    }
    if overdue {
        profile.escalation.iter().for_each(|e| add(e));
    }
    out
}

/// Builds the reminder for a claimed timer, or None when its clock no longer runs.
#[allow(clippy::too_many_arguments)]
pub fn build(
    tpl: &ReminderTemplates,
    labels: &Labels,
    profile: &Profile,
    mail: &crate::mail::MailConfig,
    public_url: Option<&str>,
    wf: &Workflow,
    case: &Case,
    claimed: &Claimed,
    now: DateTime<Utc>,
) -> Result<Option<ReminderMail>, ReminderError> {
    let Some(view) = clocks(wf, case, now)
        .into_iter()
        .find(|c| c.id == claimed.clock)
    else {
        return Ok(None);
    };
    if !matches!(view.status, ClockStatus::Pending | ClockStatus::Overdue) || case.is_closed(wf) {
        return Ok(None);
    }
    let Some(due) = view.due_at else {
        return Ok(None);
    };
    let lang = tpl.lang;
    let def = &wf.clocks[&claimed.clock];
    let overdue = now >= due;

    // What is still missing to meet the clock, and the command that meets it.
    let mut missing: Vec<String> = Vec::new();
    let mut steps = Vec::new();
    let scope = Scope {
        facts: &case.facts,
        tracks: &case.tracks,
    };
    for event in &def.met_by {
        let Some(e) = wf.events.get(event) else {
            continue;
        };
        if !case
            .tracks
            .get(&e.track)
            .is_some_and(|s| e.from.contains(s))
        {
            continue;
        }
        let mut needs: Vec<&String> = e
            .requires
            .iter()
            .filter(|f| !case.facts.contains_key(*f))
            .collect();
        if overdue && !def.internal {
            needs.extend(
                def.late_requires
                    .iter()
                    .filter(|f| !case.facts.contains_key(*f)),
            );
        }
        if let Some(w) = &e.when
            && w.eval(&scope) != Some(true)
        {
            let mut fs = Vec::new();
            w.facts(&mut fs);
            for f in fs {
                if let Some(k) = wf.facts.get_key_value(&f).map(|(k, _)| k)
                    && !needs.contains(&k)
                {
                    needs.push(k);
                }
            }
        }
        for n in &needs {
            let l = labels.get(n).to_string();
            if !missing.contains(&l) {
                missing.push(l);
            }
        }
        let sets: String = needs.iter().map(|n| format!(" --set {n}=...")).collect();
        steps.push(json!({
            "event": event,
            "label": labels.get(event),
            "command": format!("vigie case advance {} {event}{sets}", case.id),
        }));
    }

    let title = if lang == wf.lang {
        view.title.clone()
    } else {
        labels.get(&view.id).to_string()
    };
    let left = left_label(due, now, lang);
    let span = time::span(if overdue { now - due } else { due - now });
    let v = json!({
        "lang": lang.code(),
        "left": left,
        "overdue": overdue,
        "time_left": span,
        "case": { "id": case.id, "title": case.title, "workflow": wf.id },
        "clock": {
            "id": view.id,
            "title": title,
            "basis": labels.basis(&view.id, view.basis.as_deref()),
            "due": time::long_in(due, wf.timezone, lang),
            "due_short": short_due(due, wf, lang),
            "internal": view.internal,
        },
        "missing": missing,
        "steps": steps,
        "org": { "name": profile.name.clone().unwrap_or_default() },
        // The case page, when `http.public_url` says where `vigie serve` is reached.
        "case_url": crate::mail::page_link(public_url, &format!("/cases/{}", case.id)),
    });
    let render = |r: &Handlebars, name: &str| {
        r.render(name, &v).map_err(|e| RenderError::Template {
            name: format!("reminder {name}"),
            message: e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        })
    };
    let subject = render(&tpl.registry, "subject")?
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let text = render(&tpl.registry, "body")?;
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"></head><body>\n{}</body></html>\n",
        crate::render::markdown_to_html(&render(&tpl.html, "body")?)
    );

    let domain = mail.message_id_domain();
    let message_id = super::message_id(&claimed.key, &domain);
    // The same writer as the calendar feed (`crate::calendar`): the due time in the
    // workflow's zone with its VTIMEZONE, and no random part, so a resent reminder
    // carries the same bytes.
    let ics = crate::calendar::feed(
        "vigie",
        &[crate::calendar::Deadline {
            uid: format!("{}@{domain}", claimed.key.replace('/', ".")),
            sequence: 0,
            changed_at: now,
            due,
            zone: wf.timezone,
            cancelled: false,
            summary: format!("{} — {}", title, case.title),
            description: format!("{} {}", case.id, view.basis.clone().unwrap_or_default()),
            url: None,
            alarms: vec![due - Duration::hours(1)],
        }],
    );

    let to = recipients(profile, case, claimed.offset.starts_with("overdue-"));
    if to.is_empty() {
        return Err(ReminderError::NoRecipient);
    }
    let mut b = Message::builder()
        .from(mail.from_mailbox()?)
        .subject(subject.clone())
        .message_id(Some(message_id.clone()))
        .header(crate::mail::AutoSubmitted);
    // A recipient that is not an address is left out here and reported by the
    // dispatcher: it never stops the others.
    let mut any = false;
    for m in to.iter().filter_map(|t| mailbox(t).ok()) {
        b = b.to(m);
        any = true;
    }
    if !any {
        return Err(ReminderError::NoValidRecipient(to.len()));
    }
    let message = b
        .multipart(
            MultiPart::mixed()
                .multipart(MultiPart::alternative_plain_html(text, html))
                .singlepart(
                    Attachment::new(format!("{}-{}.ics", case.id, view.id)).body(
                        ics,
                        ContentType::parse("text/calendar; charset=utf-8; method=PUBLISH")
                            .map_err(|e| ReminderError::Build(e.to_string()))?,
                    ),
                ),
        )
        .map_err(|e| ReminderError::Build(e.to_string()))?;
    Ok(Some(ReminderMail {
        message,
        to,
        message_id,
        subject,
    }))
}

/// "lundi 26 octobre à 09:00" / "Monday 26 October at 09:00", for subjects.
fn short_due(due: DateTime<Utc>, wf: &Workflow, lang: Lang) -> String {
    let long = time::long_in(due, wf.timezone, lang);
    // Drop the year and the offset: the body gives both.
    let without_offset = long.split(" (UTC").next().unwrap_or(&long).to_string();
    let year = due.with_timezone(&wf.timezone).format(" %Y").to_string();
    without_offset.replacen(&year, "", 1)
}
