//! Organisations carry their own identity, everywhere: two organisations with different
//! profiles (and a configured `default` one), a case in each; every draft, the letters
//! of a notification run, the reminders (through a real SMTP server on loopback), the
//! register, the API and the organisation page of each show only its own identity and go
//! only to its own recipients.

use crate::both_backends;
use crate::common;

use common::Vigie;
use common::smtp::{Sink, attachments, decoded, free_port, read_sink};
use common::web::{Server, form_token};
use std::path::PathBuf;
use std::time::{Duration, Instant};

both_backends! {
    drafts_letters_and_register_carry_only_their_own_organisation,
    org_set_refuses_bad_values_whole_and_show_reports_the_profile,
    reminders_go_only_to_their_own_organisation_and_name_it,
    web_drafts_and_the_organisation_page_show_only_the_callers_organisation,
    the_edpb_template_carries_only_its_own_organisation,
}

/// What identifies an organisation in an output: every value of its profile.
struct Identity {
    org: &'static str,
    name: &'static str,
    identifier: &'static str,
    dpo_name: &'static str,
    dpo_email: &'static str,
    representative: &'static str,
    reminders_to: &'static str,
}

const ALPHA: Identity = Identity {
    org: "alpha",
    name: "Alpha Santé SAS",
    identifier: "111222333",
    dpo_name: "Aline Dupré",
    dpo_email: "dpo@alpha.example",
    representative: "Armand Alphonse",
    reminders_to: "veille@alpha.example",
};

const BETA: Identity = Identity {
    org: "beta",
    name: "Beta Logistique SA",
    identifier: "BE0444555666",
    dpo_name: "Bruno Berthier",
    dpo_email: "dpo@beta.example",
    representative: "Béatrice Bernard",
    reminders_to: "veille@beta.example",
};

/// The configured organisation: the config file describes `default` only.
const CONFIGURED: [&str; 3] = ["Configurée SA", "dpo@configured.example", "Claude Config"];

impl Identity {
    fn values(&self) -> [&'static str; 6] {
        [
            self.name,
            self.identifier,
            self.dpo_name,
            self.dpo_email,
            self.representative,
            self.reminders_to,
        ]
    }

    /// Asserts `text` shows none of another organisation's values, nor the config's.
    #[track_caller]
    fn only_own(&self, other: &Identity, text: &str, what: &str) {
        for v in other.values().iter().chain(CONFIGURED.iter()) {
            assert!(
                !text.contains(v),
                "{what} of {} shows {v:?}, which is not its own:\n{text}",
                self.org
            );
        }
    }
}

struct Env {
    v: Vigie,
    config: PathBuf,
    letters: PathBuf,
    port: u16,
}

impl Env {
    fn new() -> Env {
        let v = Vigie::new();
        let port = free_port();
        let config = v.dir().join("vigie.yaml");
        let letters = v.dir().join("letters");
        std::fs::write(
            &config,
            format!(
                "organisation: {{ name: \"{}\" }}\n\
                 dpo: {{ name: {}, email: {} }}\n\
                 letters_dir: {}\n\
                 mail:\n  from: \"vigie <vigie@example.org>\"\n  transport: smtp\n  smtp: {{ host: 127.0.0.1, port: {port}, security: none, timeout_secs: 10 }}\n",
                CONFIGURED[0],
                CONFIGURED[2],
                CONFIGURED[1],
                letters.display()
            ),
        )
        .expect("write config");
        let env = Env {
            v,
            config,
            letters,
            port,
        };
        for id in [&ALPHA, &BETA] {
            env.ok(&["org", "add", id.org, "--name", id.name]);
            env.ok(&[
                "org",
                "set",
                id.org,
                "--identifier",
                id.identifier,
                "--dpo-name",
                id.dpo_name,
                "--dpo-email",
                id.dpo_email,
                "--representative-name",
                id.representative,
                "--representative-role",
                "Directeur général",
                "--reminders-to",
                id.reminders_to,
            ]);
        }
        env
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["--config", self.config.to_str().expect("UTF-8 path")];
        a.extend_from_slice(args);
        a
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        self.v.ok(&self.args(args))
    }

    /// Opens a case of `org`, aware `hours_ago` hours ago, with a high risk.
    #[track_caller]
    fn open(&self, org: &str, id: &str, hours_ago: i64) {
        let aware = (chrono::Utc::now() - chrono::Duration::hours(hours_ago))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.ok(&[
            "--org",
            org,
            "case",
            "open",
            "--workflow",
            "fr",
            "--title",
            "Fuite de fichiers",
            "--aware-at",
            &aware,
            "--id",
            id,
            "--set",
            "risk=high",
        ]);
    }
}

const FR_DOCUMENTS: [&str; 4] = [
    "cnil_notification",
    "nis2_notification",
    "individual_letter",
    "complaint",
];

fn drafts_letters_and_register_carry_only_their_own_organisation() {
    let env = Env::new();
    env.open("alpha", "a-1", 2);
    env.open("beta", "b-1", 2);
    for (me, other, case) in [(&ALPHA, &BETA, "a-1"), (&BETA, &ALPHA, "b-1")] {
        for doc in FR_DOCUMENTS {
            for lang in ["fr", "en"] {
                let text = env.ok(&["--org", me.org, "draft", case, doc, "--lang", lang]);
                me.only_own(other, &text, &format!("draft {doc} ({lang})"));
            }
        }
        // The notification and the complaint are signed by the case's own controller.
        let cnil = env.ok(&["--org", me.org, "draft", case, "cnil_notification"]);
        for v in [me.name, me.identifier, me.dpo_name, me.dpo_email] {
            assert!(
                cnil.contains(v),
                "the CNIL draft of {} lacks {v:?}:\n{cnil}",
                me.org
            );
        }
        let complaint = env.ok(&["--org", me.org, "draft", case, "complaint"]);
        assert!(complaint.contains(me.representative), "{complaint}");

        // A letter run: every letter names its own organisation.
        let csv = env.v.dir().join(format!("{}.csv", me.org));
        std::fs::write(
            &csv,
            "id;prenom;nom;email;adresse;code_postal;ville\n\
             \"P1\";\"Zoé\";\"Martin\";\"p1@example.org\";\"1 rue de la Paix\";\"75001\";\"Paris\"\n",
        )
        .expect("write recipients");
        env.ok(&[
            "--org",
            me.org,
            "notify",
            case,
            "--recipients",
            csv.to_str().unwrap(),
            "--channel",
            "letter",
        ]);
        let mut letters = 0;
        for f in walk(&env.letters) {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            if text.contains(me.name) {
                letters += 1;
                me.only_own(other, &text, "letter");
            }
        }
        assert!(letters >= 1, "no letter of {} names it", me.org);

        // The register lists its own cases only.
        let reg = env.ok(&["--org", me.org, "register", "--json"]);
        let rows: serde_json::Value = serde_json::from_str(&reg).expect("JSON");
        let ids: Vec<&str> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["case"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [case], "register of {}", me.org);
        me.only_own(other, &reg, "register");
    }
}

/// The EDPB template (issue 12), as Markdown in both languages and as JSON: the
/// controller and the DPO are the case's own organisation, never the other one.
fn the_edpb_template_carries_only_its_own_organisation() {
    let env = Env::new();
    env.open("alpha", "a-1", 2);
    env.open("beta", "b-1", 2);
    for (me, other, case) in [(&ALPHA, &BETA, "a-1"), (&BETA, &ALPHA, "b-1")] {
        for lang in ["fr", "en"] {
            let text = env.ok(&[
                "--org",
                me.org,
                "draft",
                case,
                "edpb_notification",
                "--lang",
                lang,
            ]);
            me.only_own(other, &text, &format!("EDPB draft ({lang})"));
            assert!(text.contains(me.name), "{text}");
        }
        let text = env.ok(&[
            "--org",
            me.org,
            "draft",
            case,
            "edpb_notification",
            "--format",
            "json",
        ]);
        me.only_own(other, &text, "EDPB JSON");
        let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(doc["section_1_1"]["controller_name"], me.name);
        assert_eq!(doc["section_1_1"]["controller_identifier"], me.identifier);
        assert_eq!(doc["section_2_3"]["dpo_name"], me.dpo_name);
        // The other organisation's case does not exist for this one.
        let other_case = if case == "a-1" { "b-1" } else { "a-1" };
        let out = env.v.run(&env.args(&[
            "--org",
            me.org,
            "draft",
            other_case,
            "edpb_notification",
            "--format",
            "json",
        ]));
        assert_eq!(out.code, 2, "{}", out.stderr);
        me.only_own(other, &out.stdout, "refused EDPB JSON");
    }
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn org_set_refuses_bad_values_whole_and_show_reports_the_profile() {
    let env = Env::new();
    let before = env.ok(&["org", "show", "alpha", "--json"]);
    for (args, names) in [
        (vec!["--dpo-email", "x@[127.0.0.1]"], "dpo-email"),
        (
            vec!["--reminders-to", "ok@alpha.example, not an address"],
            "reminders-to",
        ),
        (vec!["--name", "Alpha\nBcc: x@evil.example"], "name"),
        (vec!["--lang", "de"], "lang"),
        (vec!["--workflow", "zz"], "workflow"),
    ] {
        // A valid change beside the bad one: nothing is written.
        let mut a = vec!["org", "set", "alpha", "--sector", "Santé"];
        a.extend(args);
        let line = env.v.fails(&env.args(&a), 2);
        assert!(line.contains(names), "{line}");
        assert!(!line.contains('\n'));
    }
    assert_eq!(env.ok(&["org", "show", "alpha", "--json"]), before);
    let unknown = env
        .v
        .fails(&env.args(&["org", "set", "nobody", "--sector", "x"]), 2);
    assert!(
        unknown.contains("unknown organisation 'nobody'"),
        "{unknown}"
    );

    let shown: serde_json::Value =
        serde_json::from_str(&env.ok(&["org", "show", "beta", "--json"])).unwrap();
    assert_eq!(shown["id"], "beta");
    assert_eq!(shown["name"], BETA.name);
    assert_eq!(shown["dpo"]["email"], BETA.dpo_email);
    assert_eq!(shown["reminders_to"][0], BETA.reminders_to);
    // The config describes `default` only.
    let default: serde_json::Value =
        serde_json::from_str(&env.ok(&["org", "show", "default", "--json"])).unwrap();
    assert_eq!(default["name"], CONFIGURED[0]);
    assert_eq!(default["dpo"]["email"], CONFIGURED[1]);
    // A stored value wins over the config's; the config fills in the rest.
    env.ok(&[
        "org",
        "set",
        "default",
        "--dpo-email",
        "new-dpo@configured.example",
    ]);
    let default: serde_json::Value =
        serde_json::from_str(&env.ok(&["org", "show", "--json"])).unwrap();
    assert_eq!(default["dpo"]["email"], "new-dpo@configured.example");
    assert_eq!(default["name"], CONFIGURED[0]);
    // The organisation's default workflow opens a case when none is named.
    env.ok(&["org", "set", "beta", "--workflow", "be"]);
    let out = env.ok(&[
        "--org",
        "beta",
        "case",
        "open",
        "--title",
        "T",
        "--aware-at",
        "2026-11-20T09:00",
        "--json",
    ]);
    let case: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(case["workflow"], "be");
}

fn reminders_go_only_to_their_own_organisation_and_name_it() {
    let env = Env::new();
    // Aware 70 hours ago: art. 33's reminders before the 72 hours are all due.
    env.open("alpha", "a-1", 70);
    env.open("beta", "b-1", 70);
    // An organisation with no recipient yet: serve starts all the same and keeps its
    // reminders until one is set.
    env.ok(&["org", "add", "gamma", "--name", "Gamma SARL"]);
    env.open("gamma", "g-1", 70);
    let sink_dir = env.v.dir().join("sink");
    let _sink = Sink::start(env.port, &sink_dir, &env.v.dir().join("sink.log"));
    let serve = env
        .v
        .serve()
        .config(&env.config)
        .listen("none")
        .args(&["--idle-check-secs", "1"])
        .spawn();
    // Wait until every reminder due now has left: the outbox of each has nothing due.
    let start = Instant::now();
    let due_left = |org: &str| -> usize {
        let out = env.ok(&["--org", org, "outbox", "list", "--json"]);
        let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
        rows.as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["state"] != "pending"
                    || r["due_at"].as_str().unwrap() <= chrono::Utc::now().to_rfc3339().as_str()
            })
            .count()
    };
    while (due_left("alpha") > 0 || due_left("beta") > 0 || read_sink(&sink_dir).len() < 2)
        && start.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let log_text = serve.log();
    assert!(
        log_text.contains("organisation 'gamma' has no reminder recipient"),
        "{log_text}"
    );
    assert!(
        !log_text.contains("organisation 'alpha' has no reminder recipient"),
        "{log_text}"
    );
    // Gamma's reminders go out once it has a DPO, to that DPO only.
    env.ok(&["org", "set", "gamma", "--dpo-email", "dpo@gamma.example"]);
    let start = Instant::now();
    let to_gamma = || {
        read_sink(&sink_dir)
            .into_iter()
            .filter(|m| m.rcpt == ["dpo@gamma.example"])
            .count()
    };
    while to_gamma() == 0 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        to_gamma() >= 1,
        "gamma's reminder was not sent once its DPO was set"
    );
    let checkpoints_to = |dpo: &str| -> Vec<common::smtp::Received> {
        read_sink(&sink_dir)
            .into_iter()
            .filter(|m| m.rcpt == [dpo])
            .collect()
    };
    let got = read_sink(&sink_dir);
    let mut seen = [0, 0];
    let reminders = got.iter().filter(|m| {
        m.rcpt != ["dpo@gamma.example"] && m.rcpt != [ALPHA.dpo_email] && m.rcpt != [BETA.dpo_email]
    });
    for m in reminders {
        let raw = decoded(&m.eml);
        // Told apart by the command every reminder ends with, not by "a-1" anywhere: the
        // calendar attachment's alarm has a random UUID, which holds "a-1" in about one
        // message in sixty (this test used to fail now and then on that).
        let (i, me, other) = if raw.contains("case show a-1") {
            (0, &ALPHA, &BETA)
        } else if raw.contains("case show b-1") {
            (1, &BETA, &ALPHA)
        } else {
            panic!("a reminder of neither case:\n{raw}")
        };
        seen[i] += 1;
        let want: Vec<String> = vec![me.reminders_to.to_string()];
        assert_eq!(
            m.rcpt, want,
            "recipients of a reminder of {}:\n{raw}",
            me.org
        );
        assert!(
            raw.contains(me.name),
            "a reminder of {} names it:\n{raw}",
            me.org
        );
        me.only_own(other, &raw, "reminder");
    }
    assert!(
        seen[0] >= 1 && seen[1] >= 1,
        "each organisation got its reminders ({seen:?}); log:\n{}",
        serve.log()
    );

    // Each DPO receives a checkpoint of its own register, which `audit verify` takes.
    for (me, other, case) in [(&ALPHA, &BETA, "a-1"), (&BETA, &ALPHA, "b-1")] {
        let start = Instant::now();
        while checkpoints_to(me.dpo_email).is_empty() && start.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(100));
        }
        let got = checkpoints_to(me.dpo_email);
        assert_eq!(got.len(), 1, "one checkpoint for {}", me.org);
        let files = attachments(&got[0].eml);
        assert_eq!(files.len(), 1, "the checkpoint is attached");
        let text = String::from_utf8(files[0].1.clone()).unwrap();
        assert!(text.contains(case), "{text}");
        assert!(
            !text.contains(if case == "a-1" { "b-1" } else { "a-1" }),
            "{text}"
        );
        me.only_own(other, &decoded(&got[0].eml), "checkpoint e-mail");
        let path = env.v.dir().join(&files[0].0);
        std::fs::write(&path, &files[0].1).unwrap();
        let p = path.to_str().unwrap();
        env.ok(&["--org", me.org, "audit", "verify", "--checkpoint", p]);
    }
    // An event that meets a legal deadline sends a new one, to that organisation only.
    env.ok(&[
        "--org",
        "alpha",
        "case",
        "advance",
        "a-1",
        "file_complaint",
        "--set",
        "complaint_place=Paris",
    ]);
    let start = Instant::now();
    while checkpoints_to(ALPHA.dpo_email).len() < 2 && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        checkpoints_to(ALPHA.dpo_email).len(),
        2,
        "a checkpoint after the complaint"
    );
    assert_eq!(checkpoints_to(BETA.dpo_email).len(), 1);
}

fn web_drafts_and_the_organisation_page_show_only_the_callers_organisation() {
    let s = Server::start();
    // The server's config names "Exemple SA" (the default organisation).
    s.v.ok(&[
        "org",
        "set",
        "acme",
        "--dpo-name",
        "Anna Acme",
        "--identifier",
        "999888777",
    ]);
    s.v.ok(&[
        "org",
        "set",
        "other",
        "--dpo-name",
        "Otto Other",
        "--identifier",
        "123123123",
    ]);
    // Each organisation's DPO, then one person who is DPO of both (issue 25 part 1)
    // with a token of each membership: the same isolation.
    for org in ["acme", "other"] {
        crate::memberships::add_ext(&s.v, org, "dpo");
    }
    let ext = crate::memberships::EXT;
    let ext_token = |org: &str| {
        s.v.ok(&["--org", org, "user", "token", ext])
            .trim()
            .to_string()
    };
    let (ext_acme, ext_other) = (ext_token("acme"), ext_token("other"));
    for (email, own, foreign) in [
        (
            "dpo@acme.example",
            ["ACME SA", "Anna Acme", "999888777"],
            [
                "Other SA",
                "Otto Other",
                "123123123",
                "Exemple SA",
                "Camille Martin",
            ],
        ),
        (
            "dpo@other.example",
            ["Other SA", "Otto Other", "123123123"],
            [
                "ACME SA",
                "Anna Acme",
                "999888777",
                "Exemple SA",
                "Camille Martin",
            ],
        ),
        (
            ext_acme.as_str(),
            ["ACME SA", "Anna Acme", "999888777"],
            [
                "Other SA",
                "Otto Other",
                "123123123",
                "Exemple SA",
                "Camille Martin",
            ],
        ),
        (
            ext_other.as_str(),
            ["Other SA", "Otto Other", "123123123"],
            [
                "ACME SA",
                "Anna Acme",
                "999888777",
                "Exemple SA",
                "Camille Martin",
            ],
        ),
    ] {
        // An address, or the shared person's token of one membership.
        let api = match email.starts_with("vigie_") {
            true => s.api_with_token(email),
            false => s.api(email),
        };
        let email = if email.starts_with("vigie_") {
            ext
        } else {
            email
        };
        let opened = api.post(
            "/api/cases",
            &serde_json::json!({"workflow": "fr", "title": "T", "aware_at": "2026-11-20T09:00"}),
        );
        assert_eq!(opened.status, 201, "{}", opened.json);
        let id = opened.json["id"].as_str().unwrap().to_string();
        for doc in FR_DOCUMENTS {
            let d = api.get(&format!("/api/cases/{id}/drafts/{doc}"));
            assert_eq!(d.status, 200, "{}", d.json);
            let text = d.json["text"].as_str().unwrap().to_string();
            for f in foreign {
                assert!(!text.contains(f), "{email}'s {doc} shows {f:?}");
            }
            if doc == "cnil_notification" {
                for o in own {
                    assert!(text.contains(o), "{email}'s {doc} lacks {o:?}:\n{text}");
                }
            }
        }
    }

    // The page: the DPO edits, a viewer only reads; each sees its own organisation.
    let mut dpo = s.browser("dpo@acme.example");
    let (status, html, _) = dpo.get("/organisation");
    assert_eq!(status, 200);
    assert!(
        html.contains("Anna Acme") && !html.contains("Otto Other"),
        "{html}"
    );
    let csrf = form_token(&html, "/organisation").expect("a CSRF field");
    let r = dpo.post_form(
        "/organisation",
        &[("_csrf", &csrf), ("dpo-email", "not an address")],
    );
    assert_eq!(r.status().as_u16(), 400);
    let r = dpo.post_form(
        "/organisation",
        &[("_csrf", &csrf), ("dpo-email", "privacy@acme.example")],
    );
    assert_eq!(r.status().as_u16(), 303, "saved, then shown again");
    let shown = s.v.ok(&["org", "show", "acme", "--json"]);
    assert!(shown.contains("privacy@acme.example"), "{shown}");
    let other_show = s.v.ok(&["org", "show", "other", "--json"]);
    assert!(!other_show.contains("privacy@acme.example"));

    // The new-case form proposes the organisation's own default workflow.
    s.v.ok(&["org", "set", "other", "--workflow", "be"]);
    let mut other_dpo = s.browser("dpo@other.example");
    let (_, html, _) = other_dpo.get("/cases/new");
    assert!(html.contains("value=\"be\" selected"), "{html}");
    let (_, html, _) = dpo.get("/cases/new");
    assert!(html.contains("value=\"fr\" selected"), "{html}");

    let mut viewer = s.browser("viewer@acme.example");
    let (status, html, _) = viewer.get("/organisation");
    assert_eq!(status, 200);
    assert!(html.contains("disabled") && !html.contains("id=\"save-org\""));
    let csrf = form_token(&html, "/organisation").expect("a CSRF field");
    let r = viewer.post_form(
        "/organisation",
        &[("_csrf", &csrf), ("dpo-email", "viewer@acme.example")],
    );
    assert_eq!(r.status().as_u16(), 403);
    assert!(
        !s.v.ok(&["org", "show", "acme", "--json"])
            .contains("viewer@acme.example")
    );
}
