//! `vigie assess CASE [--accept] [--json]` and `vigie assess --workflow ID --facts FILE`:
//! the risk assessment of a case (beside the decision recorded), or of facts alone.

use super::{CliError, Ctx, parse_pair, print_json, read_facts_file};
use crate::app::json::case_assessment_json;
use crate::assess::assessment_json;
use crate::assess::{Assessment, quarters_text};
use crate::time::Lang;
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct AssessArgs {
    /// The case (omit it for a what-if with --workflow and --facts).
    id: Option<String>,
    /// What-if: the workflow whose rules to apply to --facts.
    #[arg(long)]
    workflow: Option<String>,
    /// What-if: a YAML file of facts.
    #[arg(long)]
    facts: Option<PathBuf>,
    /// What-if: a fact, KEY=VALUE (repeatable; wins over --facts).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Record the recommendation as the decision (the `assess` event, with the
    /// assessment frozen in it; sets risk and risk_rationale).
    #[arg(long)]
    accept: bool,
    /// With --accept: when the decision was taken (default: now), in the workflow's zone.
    #[arg(long, requires = "accept")]
    at: Option<String>,
    /// With --accept --at more than 24 h back: why the decision is recorded only now.
    #[arg(long, requires = "at")]
    reason: Option<String>,
    /// fr, en or nl, for a what-if (default: the workflow's).
    #[arg(long)]
    lang: Option<String>,
    #[arg(long)]
    json: bool,
}

pub(super) fn run(ctx: &Ctx, args: AssessArgs) -> Result<(), CliError> {
    let app = ctx.app()?;
    match (&args.id, &args.workflow) {
        (Some(_), Some(_)) => Err(CliError::input(
            "give a case, or --workflow and --facts for a what-if, not both",
        )),
        (None, None) => Err(CliError::input(
            "give a case (vigie assess CASE) or --workflow ID --facts FILE",
        )),
        (None, Some(workflow)) => {
            if args.accept {
                return Err(CliError::input(
                    "--accept records a decision: it needs a case",
                ));
            }
            let mut facts = Vec::new();
            if let Some(f) = &args.facts {
                facts.extend(read_facts_file(f)?);
            }
            for p in &args.set {
                facts.push(parse_pair(p)?);
            }
            let lang = match args.lang.as_deref() {
                None => None,
                Some(s) => Some(Lang::parse(s).ok_or_else(|| {
                    CliError::input(format!(
                        "--lang: {} is not {}",
                        crate::util::quote(s),
                        Lang::choices()
                    ))
                })?),
            };
            let (wf, typed, a) = app.what_if(workflow, facts, lang)?;
            if args.json {
                print_json(&assessment_json(&wf, &a, &typed));
            } else {
                print_text(&a, None);
            }
            Ok(())
        }
        (Some(id), None) => {
            if args.facts.is_some() || !args.set.is_empty() || args.lang.is_some() {
                return Err(CliError::input(
                    "--facts, --set and --lang are for a what-if (--workflow); set a case's facts with `vigie case set`",
                ));
            }
            let mut store = ctx.org_store()?;
            let c = if args.accept {
                app.accept_assessment_at(
                    &mut store,
                    &ctx.org,
                    &ctx.actor,
                    id,
                    &crate::app::assess::Acceptance {
                        expected_seq: None,
                        at: args.at.as_deref(),
                        reason: args.reason.as_deref(),
                    },
                    ctx.now,
                )?
            } else {
                app.assessment(&mut store, &ctx.org, id)?
            };
            if args.json {
                print_json(&case_assessment_json(&c));
                return Ok(());
            }
            print_text(&c.current, Some(id));
            if let Some(r) = &c.recorded {
                let lang = c.current.lang;
                let named = |id: Option<&str>| {
                    id.map(|id| {
                        crate::assess::Risk::parse(id)
                            .map_or(id, |r| r.label(lang))
                            .to_string()
                    })
                    .unwrap_or_else(|| "-".into())
                };
                let rec = named(r.recommended_risk());
                let decided = named(r.risk.as_deref());
                say!("");
                match lang {
                    Lang::Fr => say!(
                        "Décision enregistrée (événement {}, {}) : {decided} ; recommandation d'alors : {rec}{}",
                        r.seq,
                        r.actor,
                        if r.departs() {
                            " (la décision s'en écarte)"
                        } else {
                            ""
                        }
                    ),
                    Lang::En => say!(
                        "Decision recorded (event {}, {}): {decided}; recommendation then: {rec}{}",
                        r.seq,
                        r.actor,
                        if r.departs() {
                            " (the decision departs from it)"
                        } else {
                            ""
                        }
                    ),
                    Lang::Nl => say!(
                        "Beslissing vastgelegd (gebeurtenis {}, {}): {decided}; aanbeveling toen: {rec}{}",
                        r.seq,
                        r.actor,
                        if r.departs() {
                            " (de beslissing wijkt ervan af)"
                        } else {
                            ""
                        }
                    ),
                }
                let json = case_assessment_json(&c);
                if json["decided_without_assessment"] == true {
                    say!(
                        "{}",
                        match lang {
                            Lang::Fr =>
                                "Cette décision a été enregistrée sans évaluation : la recommandation ci-dessus est celle d'aujourd'hui.",
                            Lang::En =>
                                "This decision was recorded without an assessment: the recommendation above is today's.",
                            Lang::Nl =>
                                "Deze beslissing werd zonder beoordeling vastgelegd: de aanbeveling hierboven is die van vandaag.",
                        }
                    );
                } else if json["changed"] == true {
                    say!(
                        "{}",
                        match lang {
                            Lang::Fr =>
                                "La recommandation a changé depuis (faits ou règles) : la décision enregistrée reste telle quelle.",
                            Lang::En =>
                                "The recommendation changed since (facts or rules): the recorded decision stays as it was.",
                            Lang::Nl =>
                                "De aanbeveling is sindsdien gewijzigd (feiten of regels): de vastgelegde beslissing blijft zoals ze was.",
                        }
                    );
                }
            } else if args.accept {
                // unreachable: accepting records one
            }
            Ok(())
        }
    }
}

fn print_text(a: &Assessment, case: Option<&str>) {
    let t = |fr: &'static str, en: &'static str, nl: &'static str| match a.lang {
        Lang::Fr => fr,
        Lang::En => en,
        Lang::Nl => nl,
    };
    let yes_no = |b: bool| {
        if b {
            t("oui", "yes", "ja")
        } else {
            t("non", "no", "nee")
        }
    };
    if let Some(id) = case {
        say!("{id}");
    }
    say!(
        "{} {} = DPC {} × EI {} + CB {} → {} ({}: {}, {}: {})",
        t("Gravité", "Severity", "Ernst"),
        quarters_text(a.score, a.lang),
        quarters_text(a.dpc.value, a.lang),
        quarters_text(a.ei.value, a.lang),
        quarters_text(a.cb.value, a.lang),
        a.band.name(a.lang),
        t("risque", "risk", "risico"),
        a.risk.label(a.lang),
        t("gravité CEPD", "EDPB severity", "EDPB-ernst"),
        crate::assess::edpb_name(&a.edpb_severity, a.lang),
    );
    for (name, c) in [("DPC", &a.dpc), ("EI", &a.ei), ("CB", &a.cb)] {
        for r in &c.why {
            say!("  {name} [{}] {}", r.rule, r.text);
        }
    }
    say!(
        "{}: {}   {}: {}   {}: {}",
        t("Documenter", "Document", "Documenteren"),
        yes_no(true),
        t(
            "Notifier l'autorité",
            "Notify the authority",
            "De autoriteit melden"
        ),
        yes_no(a.notify_authority),
        t(
            "Informer les personnes",
            "Inform the people",
            "De betrokkenen inlichten"
        ),
        yes_no(a.inform_individuals),
    );
    say!("{}", t("Raisons :", "Reasons:", "Redenen:"));
    for r in &a.reasons {
        say!("  [{}] {}", r.rule, r.text);
    }
    if !a.exemptions.is_empty() {
        say!(
            "{} {}",
            t(
                "Exceptions (art. 34(3)) :",
                "Exemptions (art. 34(3)):",
                "Uitzonderingen (art. 34(3)):"
            ),
            a.exemptions
                .iter()
                .map(|x| x.ground.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !a.missing.is_empty() {
        say!(
            "{} {}",
            t(
                "Faits manquants (pourraient changer la recommandation) :",
                "Missing facts (could change the recommendation):",
                "Ontbrekende feiten (kunnen de aanbeveling wijzigen):"
            ),
            a.missing.join(", ")
        );
    }
    say!("{} {}", t("Règles", "Rules", "Regels"), a.rules_version);
}
