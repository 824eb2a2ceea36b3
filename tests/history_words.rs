//! Issue 21 part 6: the history (the web timeline, `case show`) in the reader's
//! language, through `app::json::event_summary_in` and `app::issued::access_summary_in`,
//! with labels for every id ("set aware_basis", "contain (detected → contained)",
//! "viewed draft … from 127.0.0.1 (web)" were English ids on a French page).
use chrono::Utc;
use serde_json::{Map, json};
use vigie::app::json::event_summary_in;
use vigie::case::{EventBody, MetClock, Recorded};
use vigie::render::Templates;
use vigie::time::Lang;
use vigie::workflow::WorkflowSet;

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
    let set_ev = recorded(EventBody::FactsSet { facts, note: None });
    let contain = recorded(EventBody::Advanced {
        event: "contain".into(),
        track: "response".into(),
        from: "detected".into(),
        to: "contained".into(),
        facts: Map::new(),
        note: None,
        met: vec![],
        assessment: None,
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
    let row = vigie::store::backend::AccessRow {
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
        vigie::app::issued::access_summary_in(&row, &fr),
        "Consultation : projet Notification à la CNIL, depuis 127.0.0.1 (web)"
    );
}
