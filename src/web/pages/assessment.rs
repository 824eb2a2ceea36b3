//! The risk assessment's section of a case page and its two forms (issue 11).

use super::case_post::{refused, seq_of};
use crate::app::Change;
use crate::app::assess::CaseAssessment;
use crate::render::Labels;
use crate::time::{self, Lang};
use crate::web::form::{PageCtx, PageForm, PageResult, field, see_other};
use crate::web::page::{encode, word};
use crate::web::{Caller, WebError};
use axum::extract::Path;
use serde_json::{Value, json};

/// A number of ENISA's method as the page shows it: 0.25, 1.5, 4 (a comma in French).
pub(super) fn score_text(v: &Value, lang: Lang) -> String {
    let Some(n) = v.as_f64() else {
        return "—".into();
    };
    let s = n.to_string();
    match lang {
        Lang::Fr | Lang::Nl => s.replace('.', ","),
        Lang::En => s,
    }
}

/// A word of the page whose key ends with a value of the assessment's JSON.
pub(super) fn word_of(lang: Lang, prefix: &str, v: &Value) -> String {
    match v.as_str() {
        Some(s) => word(lang, &format!("{prefix}{s}")),
        None => "—".into(),
    }
}

pub(super) fn yes_no(lang: Lang, v: &Value) -> String {
    match v.as_bool() {
        Some(true) => word(lang, "yes"),
        Some(false) => word(lang, "no"),
        None => "—".into(),
    }
}

/// What the summary table shows of one assessment (the API's ASSESSMENT object): the
/// current one, or the one frozen in the recorded decision.
pub(super) fn assessment_summary(a: &Value, lang: Lang) -> Value {
    json!({
        "risk": a["risk"],
        "risk_label": word_of(lang, "as_risk_", &a["risk"]),
        "score": score_text(&a["severity"]["score"], lang),
        "band": a["severity"]["band"],
        "band_label": word_of(lang, "as_band_", &a["severity"]["band"]),
        "edpb_label": word_of(lang, "as_edpb_", &a["edpb_severity"]),
        "notify_authority": yes_no(lang, &a["notify_authority"]),
        "inform_individuals": yes_no(lang, &a["inform_individuals"]),
        "rules_version": a["rules_version"],
    })
}

/// The assessment section of a case page, from the API's JSON of it (one shape for
/// both): the severity's components with their reasons, the recommendation for each
/// duty, exemptions, facts still missing, the decision recorded (beside the current
/// recommendation when it changed since), and the DPO's two forms.
pub(super) fn assessment_view(
    a: &CaseAssessment,
    labels: &Labels,
    lang: Lang,
    c: &Caller,
    typed: Option<&[(String, String)]>,
) -> Value {
    let j = crate::app::json::case_assessment_json(a);
    let cur = &j["current"];
    let about = |k: &str| -> Vec<Value> {
        cur["reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["about"] == k)
            .cloned()
            .collect()
    };
    let components: Vec<Value> = ["dpc", "ei", "cb"]
        .iter()
        .map(|k| {
            let comp = &cur["severity"][k];
            json!({
                "key": k,
                "label": word(lang, &format!("as_{k}")),
                "value": score_text(&comp["value"], lang),
                "why": comp["why"],
            })
        })
        .collect();
    let duties: Vec<Value> = ["document", "notify_authority", "inform_individuals"]
        .iter()
        .map(|k| {
            json!({
                "key": k,
                "label": word(lang, &format!("as_duty_{k}")),
                "yes": cur[k].as_bool().unwrap_or(true),
                "answer": yes_no(lang, &cur[k]),
                "reasons": about(k),
            })
        })
        .collect();
    let missing: Vec<Value> = cur["missing"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|f| json!({"name": f, "label": labels.get(f)}))
        .collect();
    let tz = a.case.workflow.timezone;
    let recorded = a.recorded.as_ref().map(|r| {
        let rj = &j["recorded"];
        json!({
            "seq": r.seq,
            "at": time::short_in(r.at, tz),
            "actor": r.actor,
            "risk_label": word_of(lang, "as_risk_", &rj["risk"]),
            "rationale": r.rationale,
            "recommended_label": word_of(lang, "as_risk_", &rj["recommended_risk"]),
            "departs": r.departs(),
            "summary": r.assessment.as_ref().map(|f| assessment_summary(f, lang)),
        })
    });
    let typed_field = |k: &str| typed.and_then(|f| field(f, k)).map(str::to_string);
    let chosen = typed_field("risk");
    let options: Vec<Value> = [
        crate::assess::Risk::None,
        crate::assess::Risk::Risk,
        crate::assess::Risk::High,
    ]
    .iter()
    .map(|r| {
        json!({
            "value": r.as_str(),
            "label": word(lang, &format!("as_risk_{}", r.as_str())),
            "selected": chosen.as_deref() == Some(r.as_str()),
        })
    })
    .collect();
    json!({
        "lang": cur["lang"],
        "summary": assessment_summary(cur, lang),
        "components": components,
        "duties": duties,
        "risk_reasons": about("risk"),
        "exemptions": cur["exemptions"],
        "missing": missing,
        "recorded": recorded,
        "changed": j["changed"],
        "without_assessment": j["decided_without_assessment"],
        "accepted": a.is_accepted(),
        "can_decide": c.user.role.is_dpo(),
        "decide": {
            "options": options,
            "rationale": typed_field("rationale").unwrap_or_default(),
        },
    })
}

/// "Accept": the recommendation becomes the recorded decision (the DPO's).
pub(super) async fn accept_assessment(
    Path(id): Path<String>,
    PageForm { ctx, form }: PageForm,
) -> PageResult {
    let (case, seq) = (id.clone(), seq_of(form.pairs()));
    let accepted = match ctx
        .app
        .for_caller(&ctx.caller)
        .dpo("accept the risk assessment")
    {
        Ok(me) => {
            me.write(move |core, store, me| {
                core.accept_assessment(store, &me.org, &me.actor, &case, seq, time::now())
            })
            .await
        }
        Err(e) => Err(e),
    };
    match accepted {
        Ok(_) => Ok(see_other(&format!("/cases/{}?ok=assessed", encode(&id)))),
        Err(e) => refused_outright(&ctx, id, e, form.pairs()).await,
    }
}

/// "Decide otherwise": the DPO records a risk of their own with its rationale, through
/// the workflow's decision event; the application layer refuses a departure from the
/// recommendation without a rationale (nothing written).
pub(super) async fn decide_otherwise(
    Path(id): Path<String>,
    PageForm { ctx, form }: PageForm,
) -> PageResult {
    if !ctx.caller.user.role.is_dpo() {
        let e = WebError::forbidden("record the risk decision");
        return refused_outright(&ctx, id, e, form.pairs()).await;
    }
    let case = id.clone();
    let current = ctx
        .app
        .for_caller(&ctx.caller)
        .read(move |core, store, me| core.case(store, &me.org, &case))
        .await
        .map_err(ctx.fail())?;
    let Some(rules) = ctx.app.workflows.rules(&current.workflow.id) else {
        let e = WebError::bad(format!(
            "workflow '{}' names no assessment rules",
            current.workflow.id
        ));
        return Ok(refused(&ctx, id, current, e, form.pairs()).await);
    };
    let risk = form.get("risk").map(str::trim).unwrap_or("");
    if risk.is_empty() {
        let e = WebError::bad(ctx.word("as_choose_risk"));
        return Ok(refused(&ctx, id, current, e, form.pairs()).await);
    }
    let mut facts = vec![(rules.records.risk.clone(), json!(risk))];
    // An empty rationale is no rationale: the application layer says when one is due.
    if let Some(why) = form
        .get("rationale")
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        facts.push((rules.records.rationale.clone(), json!(why)));
    }
    let change = Change {
        event: Some(rules.records.event.clone()),
        facts,
        note: None,
        at: None,
        expected_seq: seq_of(form.pairs()),
        reason: None,
        derive: false,
    };
    let changed = ctx
        .app
        .for_caller(&ctx.caller)
        .change(id.clone(), change)
        .await;
    match changed {
        Ok(_) => Ok(see_other(&format!("/cases/{}?ok=assessed", encode(&id)))),
        Err(e) => Ok(refused(&ctx, id, current, e, form.pairs()).await),
    }
}

/// A refused assessment form before the case was read: the case page with the reason
/// (or the error page when the case is not the caller's).
async fn refused_outright(
    ctx: &PageCtx,
    id: String,
    e: WebError,
    form: &[(String, String)],
) -> PageResult {
    let case = id.clone();
    let l = ctx
        .app
        .for_caller(&ctx.caller)
        .read(move |core, store, me| core.case(store, &me.org, &case))
        .await
        .map_err(ctx.fail())?;
    Ok(refused(ctx, id, l, e, form).await)
}
