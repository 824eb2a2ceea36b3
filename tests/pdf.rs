//! PDF drafts and print-ready letters, read back with real tools: poppler's `pdftotext`
//! (text, and the text inside a rectangle of a page) and `pdftoppm` (pictures of first
//! pages, kept under `target/test-artifacts/pdf/` for a person to look at).
//!
//! Needs poppler-utils (.ci/run installs it). Without it the tests say so loudly and
//! pass locally; under CI (`CI` set) they fail.

use crate::common;

use common::Vigie;
use common::process::Serve;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ORG: &str = "ACME Santé";

fn tools() -> bool {
    let found = ["pdftotext", "pdftoppm", "pdfinfo"].iter().all(|t| {
        Command::new(t)
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "poppler-utils (pdftotext, pdftoppm) is missing under CI"
        );
        eprintln!(
            "\n*** SKIPPED: poppler-utils is not installed (apt-get install poppler-utils) ***\n"
        );
    }
    found
}

/// `pdftotext` of pages `first..=last` (and of a rectangle in points, if given).
fn text(pdf: &Path, first: usize, last: usize, rect: Option<(f32, f32, f32, f32)>) -> String {
    let mut c = Command::new("pdftotext");
    c.args(["-f", &first.to_string(), "-l", &last.to_string()]);
    if let Some((x, y, w, h)) = rect {
        // At 72 dpi a pixel is a point.
        // Whole pixels, rounded outwards (less than a point).
        let (x0, y0) = (x.floor(), y.floor());
        let (w, h) = ((x + w).ceil() - x0, (y + h).ceil() - y0);
        c.args(["-r", "72", "-x", &x0.to_string(), "-y", &y0.to_string()]);
        c.args(["-W", &w.to_string(), "-H", &h.to_string()]);
    }
    let out = c.arg(pdf).arg("-").output().expect("pdftotext runs");
    assert!(out.status.success(), "pdftotext {}: {out:?}", pdf.display());
    String::from_utf8(out.stdout).expect("UTF-8 text")
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn pages(pdf: &Path) -> usize {
    let out = Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .expect("pdfinfo runs");
    let info = String::from_utf8_lossy(&out.stdout).to_string();
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count in {info}"))
}

/// Keeps a picture of the first page under target/test-artifacts/pdf/NAME.png.
fn screenshot(pdf: &Path, name: &str) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo("target"));
    let dir = target.join("test-artifacts").join("pdf");
    std::fs::create_dir_all(&dir).expect("artifacts folder");
    let status = Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"])
        .arg(pdf)
        .arg(dir.join(name))
        .status()
        .expect("pdftoppm runs");
    assert!(status.success(), "pdftoppm {}", pdf.display());
    assert!(dir.join(format!("{name}.png")).exists());
}

fn config(v: &Vigie) -> PathBuf {
    let path = v.dir().join("config.yaml");
    let yaml = format!(
        "organisation:\n  name: {ORG}\ndpo:\n  name: Dora Delegate\n  email: dpo@example.org\n  phone: \"+33 1 23 45 67 89\"\nletters_dir: {}\nmail:\n  from: \"ACME <notify@example.org>\"\n  outbox_dir: {}\n  transport: file\n",
        v.dir().join("letters").display(),
        v.dir().join("outbox").display()
    );
    std::fs::write(&path, yaml).expect("write the config");
    path
}

fn open(v: &Vigie, cfg: &Path, workflow: &str, id: &str) {
    v.ok(&[
        "--config",
        cfg.to_str().unwrap(),
        "case",
        "open",
        "--workflow",
        workflow,
        "--title",
        "Fuite « test » à 12 €",
        "--aware-at",
        "2026-11-20T09:00",
        "--id",
        id,
        "--set",
        "measures=Les mots de passe ont été réinitialisés",
        "--set",
        "individual_advice=Changez votre mot de passe",
    ]);
}

/// The documents of a case's workflow, as the error for an unknown one lists them.
fn documents(v: &Vigie, cfg: &Path, id: &str) -> Vec<String> {
    let out = v.run(&[
        "--config",
        cfg.to_str().unwrap(),
        "draft",
        id,
        "no-such-document",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    let list = out
        .stderr
        .split("(documents: ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or_else(|| panic!("no document list in {}", out.stderr));
    list.split(", ").map(str::to_string).collect()
}

#[test]
fn a_pdf_draft_of_every_document_of_fr_and_be_has_its_text_footer_and_page_numbers() {
    if !tools() {
        return;
    }
    let v = Vigie::new();
    let cfg = config(&v);
    let c = cfg.to_str().unwrap();
    for (wf, id) in [("fr", "c-fr"), ("be", "c-be")] {
        open(&v, &cfg, wf, id);
        let docs = documents(&v, &cfg, id);
        assert!(docs.len() >= 3, "{docs:?}");
        for doc in docs {
            let pdf = v.dir().join(format!("{id}-{doc}.pdf"));
            let out = v.run(&[
                "--config",
                c,
                "draft",
                id,
                &doc,
                "--format",
                "pdf",
                "--out",
                pdf.to_str().unwrap(),
            ]);
            assert_eq!(out.code, 0, "{doc}: {out:?}");
            assert!(out.stdout.is_empty(), "a PDF never goes to stdout");
            let n = pages(&pdf);
            let all = text(&pdf, 1, n, None);
            // Every word of the markdown draft's first heading is in the PDF's text.
            let md = v.ok(&["--config", c, "draft", id, &doc]);
            let heading = md
                .lines()
                .find(|l| l.starts_with('#'))
                .unwrap_or_else(|| panic!("{doc}: no heading in {md}"))
                .trim_start_matches('#');
            let got = words(&all);
            for w in words(heading) {
                let w = w.replace('*', "");
                assert!(
                    got.iter().any(|g| g.contains(&w)),
                    "{doc}: '{w}' of the heading not in the PDF text:\n{all}"
                );
            }
            // The footer (the case reference, the generation time in the workflow's zone
            // with its offset) and the page number on every page.
            for p in 1..=n {
                let t = text(&pdf, p, p, None);
                assert!(
                    t.contains(&format!("Dossier {id}")) || t.contains(&format!("Case {id}")),
                    "{doc} page {p}: no case reference in\n{t}"
                );
                assert!(
                    t.contains(&format!("{p} / {n}")),
                    "{doc} page {p}: no page number in\n{t}"
                );
                assert!(
                    t.contains("+01:00") || t.contains("+02:00"),
                    "{doc} page {p}: no time with its offset in\n{t}"
                );
            }
            assert!(all.contains('é'), "{doc}: accents come out as text");
            screenshot(&pdf, &format!("draft-{id}-{doc}"));
        }
    }
}

#[test]
fn recording_a_pdf_draft_records_the_sha256_of_its_exact_bytes() {
    if !tools() {
        return;
    }
    let v = Vigie::new();
    let cfg = config(&v);
    let c = cfg.to_str().unwrap();
    open(&v, &cfg, "fr", "c1");
    let pdf = v.dir().join("cnil.pdf");
    let out = v.run(&[
        "--config",
        c,
        "draft",
        "c1",
        "cnil_notification",
        "--format",
        "pdf",
        "--out",
        pdf.to_str().unwrap(),
        "--record",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let bytes = std::fs::read(&pdf).expect("the PDF");
    let sha: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        out.stderr.contains(&format!("sha256:{sha}")),
        "{}",
        out.stderr
    );
    let shown = v.ok(&["--config", c, "case", "show", "c1", "--json"]);
    assert!(
        shown.contains(&sha),
        "the register holds the PDF's hash: {shown}"
    );
    assert!(shown.contains("\"pdf\""), "and its format: {shown}");
    // Without --out, nothing is written and the error says why.
    let out = v.run(&[
        "--config",
        c,
        "draft",
        "c1",
        "cnil_notification",
        "--format",
        "pdf",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--out"), "{}", out.stderr);
}

struct Person {
    id: String,
    name: String,
    street: String,
    postcode: String,
    city: String,
}

fn person(i: usize) -> Person {
    const FIRST: [&str; 5] = ["Zoé", "Éric", "Anaïs", "Jean-Luc", "Ødegaard"];
    Person {
        id: format!("P{i:06}"),
        name: format!("{} Nom{i}x", FIRST[i % FIRST.len()]),
        street: format!("{i} rue des Écoles"),
        postcode: format!("{:05}", 75001 + i % 20),
        city: "Paris".into(),
    }
}

fn recipients(v: &Vigie, people: &[Person], extra: &str) -> PathBuf {
    let mut s = String::from("id;nom;adresse;code_postal;ville\n");
    for p in people {
        s.push_str(&format!(
            "{};{};{};{};{}\n",
            p.id, p.name, p.street, p.postcode, p.city
        ));
    }
    s.push_str(extra);
    let path = v.dir().join("people.csv");
    std::fs::write(&path, s).expect("write the recipients");
    path
}

/// index.csv of the campaign's print folder: (file, page, pages, key, postal code).
fn index(print: &Path) -> Vec<(String, usize, usize, String, String)> {
    let text = std::fs::read_to_string(print.join("index.csv")).expect("index.csv");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("file,page,pages,key,postal_code"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 5, "{l}");
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].to_string(),
                f[4].to_string(),
            )
        })
        .collect()
}

#[test]
fn each_letter_shows_its_address_in_the_envelope_window_and_nobody_elses() {
    if !tools() {
        return;
    }
    let v = Vigie::new();
    let cfg = config(&v);
    let c = cfg.to_str().unwrap();
    open(&v, &cfg, "fr", "c1");
    let people: Vec<Person> = (0..23).map(person).collect();
    // A row whose address cannot fit the window is rejected, not printed.
    let long = format!("LONG;Long Address;{};75001;Paris\n", "très ".repeat(30));
    let csv = recipients(&v, &people, &long);
    let out = v.ok(&[
        "--config",
        c,
        "notify",
        "c1",
        "--recipients",
        csv.to_str().unwrap(),
        "--channel",
        "letter",
        "--format",
        "pdf",
        "--letters-per-file",
        "5",
        "--json",
    ]);
    let out: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(out["sent"], 23, "{out:#}");
    assert_eq!(out["rejected"], 1, "{out:#}");
    let rejects = std::fs::read_to_string(v.dir().join("rejects.csv")).expect("rejects.csv");
    assert!(rejects.contains("too long for the envelope"), "{rejects}");

    let print = v.dir().join("letters/campaign-1/print");
    let idx = index(&print);
    assert_eq!(idx.len(), 23);
    let files: BTreeSet<&str> = idx.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(files.len(), 5, "23 letters, 5 a file: {files:?}");
    // The index names nobody: no name, street or identifier of a person.
    let raw = std::fs::read_to_string(print.join("index.csv")).unwrap();
    for p in &people {
        assert!(!raw.contains(&p.name) && !raw.contains(&p.street) && !raw.contains(&p.id));
    }
    // Which letter is whose: the index is in file order, as the rows were.
    let mut seen_keys = BTreeSet::new();
    let mut pages_of: BTreeMap<&str, usize> = BTreeMap::new();
    // The window: 90–190 mm from the left, 50–95 mm from the top (src/render/pdf/mod.rs).
    let mm = 72.0 / 25.4;
    let window = (90.0 * mm, 50.0 * mm, 100.0 * mm, 45.0 * mm);
    for (i, (row, p)) in idx.iter().zip(&people).enumerate() {
        let (file, first, n, key, postcode) = row;
        assert!(seen_keys.insert(key.clone()), "key {key} twice");
        assert_eq!(postcode, &p.postcode);
        *pages_of.entry(file).or_default() += n;
        let pdf = print.join(file);
        let letter = text(&pdf, *first, first + n - 1, None);
        let letter_words = words(&letter);
        for w in words(&p.name).iter().chain(&words(&p.street)) {
            assert!(letter_words.contains(w), "{}: '{w}' not in\n{letter}", p.id);
        }
        assert!(letter.contains(&format!("{} {}", p.postcode, p.city)));
        // Nobody else's name: each name holds a word of its own, "Nom{i}x".
        for j in (0..people.len()).filter(|j| *j != i) {
            let marker = format!("Nom{j}x");
            assert!(
                !letter_words
                    .iter()
                    .any(|w| w.trim_end_matches(',') == marker),
                "{}'s letter shows person {j}:\n{letter}",
                p.id
            );
        }
        // The window holds the address and nothing else.
        let inside = text(&pdf, *first, *first, Some(window));
        let expected = format!("{}\n{}\n{} {}", p.name, p.street, p.postcode, p.city);
        assert_eq!(
            inside.trim(),
            expected,
            "{}: the window shows\n{inside}",
            p.id
        );
        assert!(letter.contains(&format!("Page 1 / {n}")), "{letter}");
        assert!(letter.contains("Dossier c1"), "{letter}");
    }
    for (file, n) in pages_of {
        assert_eq!(pages(&print.join(file)), n, "{file}: pages of its letters");
    }
    screenshot(&print.join("letters-000001.pdf"), "letter-first-page");
}

#[test]
fn a_letter_run_killed_mid_way_and_rerun_prints_every_person_exactly_once() {
    if !tools() {
        return;
    }
    let v = Vigie::new();
    let cfg = config(&v);
    let c = cfg.to_str().unwrap();
    open(&v, &cfg, "fr", "c1");
    let total = 6000;
    let people: Vec<Person> = (0..total).map(person).collect();
    let csv = recipients(&v, &people, "");
    let args = [
        "--config",
        c,
        "notify",
        "c1",
        "--recipients",
        csv.to_str().unwrap(),
        "--channel",
        "letter",
        "--format",
        "pdf",
        "--letters-per-file",
        "200",
        "--json",
    ];
    let print = v.dir().join("letters/campaign-1/print");
    let child = v
        .command()
        .args(args)
        .env("VIGIE_ACTOR", "test-dpo")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigie starts");
    let mut run = Serve::new(child);
    // Killed once at least two files are complete, long before the 30 it will write.
    let deadline = Instant::now() + Duration::from_secs(300);
    let written = || {
        std::fs::read_dir(&print)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        let n = e.file_name().to_string_lossy().to_string();
                        n.starts_with("letters-") && n.ends_with(".csv")
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    while written() < 2 {
        assert!(
            run.try_exit().is_none(),
            "the run ended before it was killed"
        );
        assert!(Instant::now() < deadline, "no letters written");
        std::thread::sleep(Duration::from_millis(20));
    }
    run.kill9();
    let before = written();
    assert!(before < total / 200, "killed mid-run ({before} files)");

    let out: serde_json::Value = serde_json::from_str(&v.ok(&args)).expect("JSON");
    assert_eq!(out["rejected"], 0, "{out:#}");
    let idx = index(&print);
    let keys: BTreeSet<&str> = idx.iter().map(|r| r.3.as_str()).collect();
    assert_eq!(idx.len(), total, "every person in the index");
    assert_eq!(keys.len(), total, "nobody twice");
    // Every PDF has its index and the pages the index gives it; no orphan left.
    let mut pages_of: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &idx {
        *pages_of.entry(r.0.as_str()).or_default() += r.2;
    }
    let pdfs: Vec<String> = std::fs::read_dir(&print)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".pdf"))
        .collect();
    assert_eq!(pdfs.len(), pages_of.len(), "{pdfs:?}");
    for (file, n) in pages_of {
        assert_eq!(pages(&print.join(file)), n, "{file}");
    }
    // The register agrees: a third run sends nobody.
    let again: serde_json::Value = serde_json::from_str(&v.ok(&args)).expect("JSON");
    assert_eq!(again["sent"], 0, "{again:#}");
    assert_eq!(again["skipped"], total, "{again:#}");
    assert_eq!(index(&print).len(), total);
}

/// Issue 13 part 5: the register for an inspection as a PDF, on the command line and
/// the register page, holds every seed incident with its decision and reasons, with the
/// register's name and page numbers in the footer.
#[test]
fn the_register_for_an_inspection_prints_every_incident_to_pdf() {
    if !tools() {
        return;
    }
    let v = Vigie::new();
    v.ok(&["demo"]);
    let err = v.fails(&["register", "--format", "pdf"], 2);
    assert!(err.contains("--out"), "{err}");
    let pdf = v.dir().join("register.pdf");
    v.ok(&[
        "register",
        "--format",
        "pdf",
        "--lang",
        "fr",
        "--out",
        pdf.to_str().unwrap(),
    ]);
    let n = pages(&pdf);
    let all = text(&pdf, 1, n, None);
    for id in [
        "caf-2021",
        "hubee-2026",
        "france-travail",
        "cpas-charleroi",
        "france-visas-2021",
    ] {
        assert!(all.contains(id), "{id} missing from the PDF register");
    }
    assert_eq!(all.matches("Décision et motifs").count(), 5, "{all}");
    assert!(all.contains("register-default"), "footer: {all}");
    assert!(all.contains(&format!("1 / {n}")), "page numbers: {all}");
    screenshot(&pdf, "register-inspection");
}

/// The draft page offers the PDF the CLI makes: downloaded by a signed-in user of the
/// organisation, logged as a PDF download, with the case's own facts and no other
/// organisation's; another organisation's user does not get it.
#[test]
fn the_draft_page_downloads_the_pdf_of_its_document() {
    if !tools() {
        return;
    }
    let s = common::web::Server::start();
    let r = s.api("dpo@acme.example").post(
        "/api/cases",
        &serde_json::json!({"workflow": "fr", "title": "Laptop stolen", "aware_at": "2026-11-20T09:00",
                "id": "a-pdf", "facts": {"nature": ["confidentiality"], "measures": "Remote wipe of the laptop"}}),
    );
    assert_eq!(r.status, 201, "{}", r.json);
    let mut b = s.browser("contrib@acme.example");
    let (_, page, _) = b.get("/cases/a-pdf/drafts/cnil_notification?lang=fr");
    assert!(
        page.contains("id=\"download-pdf\""),
        "the page offers the PDF"
    );
    let (status, bytes, headers) =
        b.get_bytes("/cases/a-pdf/drafts/cnil_notification/download?format=pdf&lang=fr");
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("a-pdf-cnil_notification.fr.pdf"),
        "{headers:?}"
    );
    assert!(bytes.starts_with(b"%PDF-"), "a PDF");
    let file = s.v.dir().join("draft-from-web.pdf");
    std::fs::write(&file, &bytes).unwrap();
    let all = words(&text(&file, 1, pages(&file), None)).join(" ");
    assert!(all.contains("Remote wipe of the laptop"), "{all}");
    assert!(all.contains("a-pdf"), "the footer names the case: {all}");
    assert!(!all.to_lowercase().contains("other"), "{all}");
    // Logged as a PDF download.
    let case =
        s.v.json(&["--org", "acme", "case", "show", "a-pdf", "--json"]);
    let access = case["access"].as_array().unwrap();
    assert!(
        access.iter().any(|a| a["action"] == "download"
            && a["detail"]
                .as_str()
                .unwrap()
                .contains("cnil_notification (pdf, fr)")),
        "{access:?}"
    );
    // Another organisation's user finds no such case.
    let mut other = s.browser("dpo@other.example");
    let (status, bytes, _) =
        other.get_bytes("/cases/a-pdf/drafts/cnil_notification/download?format=pdf&lang=fr");
    assert_eq!(status, 404);
    assert!(!bytes.starts_with(b"%PDF-"));
}

/// Letters print every name (issue 23, N4): a run of letters to people whose names and
/// addresses are in Japanese, Chinese, Korean, Arabic, Hebrew, Greek and Cyrillic.
/// `pdftotext` reads every word of every name and street back from its letter, in the
/// window and in the salutation; a row with a character no font here can print is a
/// rejected row with its reason, never a letter with a box.
#[test]
fn letters_print_every_name_in_every_script_or_reject_the_row() {
    if !tools() {
        return;
    }
    let v = Vigie::new();
    let cfg = config(&v);
    let c = cfg.to_str().unwrap();
    open(&v, &cfg, "fr", "c1");
    let people: Vec<Person> = [
        ("JA", "山田 太郎", "丸の内 1-1", "東京都"),
        ("ZH", "王 小明", "建国路 88号", "北京市"),
        ("KO", "김 민준", "세종대로 110", "서울"),
        ("AR", "محمد العلي", "شارع الملك فهد 12", "الرياض"),
        ("HE", "דוד כהן", "רחוב הרצל 5", "תל אביב"),
        ("EL", "Γιώργος Παπαδόπουλος", "Οδός Ερμού 10", "Αθήνα"),
        ("RU", "Иван Петров", "улица Ленина 5", "Москва"),
    ]
    .iter()
    .map(|(id, name, street, city)| Person {
        id: id.to_string(),
        name: name.to_string(),
        street: street.to_string(),
        postcode: "75001".into(),
        city: city.to_string(),
    })
    .collect();
    // A private-use character (a legacy system's logo, say): no font has it.
    let boxed = "BOX;Jean \u{E000} Dupont;1 rue de la Paix;75002;Paris\n";
    let csv = recipients(&v, &people, boxed);
    // Hangul is in Nanum Gothic (fonts-nanum, OFL, .ci/run installs it), which the default
    // chain now tries after Droid Sans Fallback: no VIGIE_PDF_FONTS needed.
    let out = v.run_env(
        &[
            "--config",
            c,
            "notify",
            "c1",
            "--recipients",
            csv.to_str().unwrap(),
            "--channel",
            "letter",
            "--format",
            "pdf",
            "--json",
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = out.stdout;
    let out: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let rejects = std::fs::read_to_string(v.dir().join("rejects.csv")).unwrap_or_default();
    assert_eq!(out["sent"], 7, "{out:#}\n{rejects}");
    assert_eq!(out["rejected"], 1, "{out:#}");
    let rejects = std::fs::read_to_string(v.dir().join("rejects.csv")).expect("rejects.csv");
    assert!(
        rejects.contains("no font") && rejects.contains("U+E000"),
        "{rejects}"
    );
    assert!(
        !rejects.contains("Dupont"),
        "the reason names nobody: {rejects}"
    );

    let print = v.dir().join("letters/campaign-1/print");
    let idx = index(&print);
    assert_eq!(idx.len(), 7);
    let mm = 72.0 / 25.4;
    let window = (90.0 * mm, 50.0 * mm, 100.0 * mm, 45.0 * mm);
    for (row, p) in idx.iter().zip(&people) {
        let (file, first, n, ..) = row;
        let pdf = print.join(file);
        let letter = text(&pdf, *first, first + n - 1, None);
        let inside = text(&pdf, *first, *first, Some(window));
        assert!(!letter.contains('\u{FFFD}'), "{}: {letter}", p.id);
        // pdftotext marks a right-to-left line with bidi embedding controls (U+202A..E):
        // its own markup, not the letter's text.
        let unmarked = |t: &str| -> Vec<String> {
            let t: String = t
                .chars()
                .filter(|c| !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
                .collect();
            words(&t)
        };
        let (letter_words, window_words) = (unmarked(&letter), unmarked(&inside));
        // (Not the city after the postal code: on a right-to-left line pdftotext glues
        // "75001" to the city's name when it reads the digits back.)
        for w in words(&p.name).iter().chain(&words(&p.street)) {
            assert!(
                window_words.contains(w),
                "{}: '{w}' not in the window:\n{inside}",
                p.id
            );
            assert!(letter_words.contains(w), "{}: '{w}' not in\n{letter}", p.id);
        }
        screenshot(&pdf, &format!("letter-{}", p.id.to_lowercase()));
    }
}
