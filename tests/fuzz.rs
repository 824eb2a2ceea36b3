//! Keeping odd input found: a seeded loop of random `case open/set/advance` commands
//! against the real binary, with odd dates (year 0, -262143, 9999-12-31, DST gaps and
//! overlaps), huge and negative numbers, newlines, ANSI escapes, NUL (through facts
//! files), DEL, C1 controls, bidi overrides, unknown facts and events, a
//! shifted clock, and workflows mutated in a `workflows_dir` (far zones, periods of
//! 100,000 months). No command may panic or exit with anything but 0, 1 or 2, and after
//! each accepted write the case still loads, `case list` and `register` work and
//! `audit verify` passes.
//!
//! Values are passed as `--opt=value`: `--note -1` is clap's usage error, not a case.
//! Bounded in count, not time. `VIGIE_FUZZ_SEED=n` replays another sequence, and
//! `VIGIE_FUZZ_STEPS=n` runs longer.

use crate::common;

use chrono::{Duration, Utc};
use common::{Output, Vigie};

/// xorshift64*: enough randomness for picking, and the same sequence for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const ODD_TIMES: &[&str] = &[
    "0000-01-01T00:00",
    "-262143-01-01T00:00",
    "+262142-12-31T23:59:59Z",
    "9999-12-31T23:59",
    "9999-12-30T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "2026-03-29T02:30",
    "2026-10-25T02:30",
    "2025-10-26T02:30",
    "2025-13-01T00:00",
    "2025-02-29T10:00",
    "2025-06-15T12:00:00.123456789Z",
    "2025-06-15T12:00+14:00",
    "2025-06-15 12:00",
    "now",
    "",
    "2025-10-23T10:00\n",
    "\u{1b}[2J2025-10-23T10:00",
];

const ODD_VALUES: &[&str] = &[
    "99999999999999999999",
    "-9223372036854775808",
    "9223372036854775807",
    "1e308",
    "-1",
    "0",
    "line one\nline two",
    "\u{1b}[31mred\u{1b}[0m",
    "\r\n",
    "[confidentiality",
    "[confidentiality, integrity]",
    "[]",
    "[identity, contact]",
    "high",
    "none",
    "low",
    "true",
    "oui",
    "null",
    "~",
    "'quoted'",
    "{a: 1}",
    "=cmd|' /C calc'!A0",
    "ééééééééééééééééééééééééééééééééééééééééééééééé",
    // DEL, C1 controls (a Windows-1252 paste gives U+0092), bidi override, line
    // separator, negative counts (issue 23).
    "a\u{7f}b",
    "l\u{92}été",
    "\u{85}next line",
    "invoice\u{202e}fdp.exe",
    "one\u{2028}two",
    "-5",
    "-1200",
];

/// Values only a facts file can carry (a command line cannot hold NUL), as YAML.
const YAML_VALUES: &[&str] = &[
    "\"a\\0b\"",
    "\"\\0\"",
    "[\"x\\0\", y]",
    "\"\\x7f\"",
    "\"\\u0092\"",
    "\"\\u009b31m\"",
    "\"x\\u202etxt.exe\"",
    "\"\\u2028\"",
    "-5",
    "-9223372036854775808",
    "FRA",
    "\"FR=-3\"",
];

const FACTS: &[&str] = &[
    "aware_at",
    "detected_at",
    "contained_at",
    "risk",
    "nature",
    "subjects_approx",
    "data_categories",
    "consequences",
    "measures",
    "delay_reasons",
    "no_authority_reasons",
    "individuals_exemption",
    "riks",
    "aware_at\n",
    "\u{1b}[0m",
    "records_approx",
    "establishment_countries",
    "subjects_per_country",
];

const EVENTS: &[&str] = &[
    "contain",
    "assess",
    "notify_authority",
    "notify_authority_complement",
    "decide_no_authority_notice",
    "notify_individuals",
    "decide_no_individual_notice",
    "file_complaint",
    "nis2_early_warning",
    "nis2_notification",
    "nis2_final_report",
    "close",
    "notify",
    "close\u{1b}[0m",
];

/// Workflows mutated from fr.yaml: far zones (+14 h, half-hour DST), periods as long as
/// a workflow may give. Each under its own id in the `workflows_dir`.
fn mutated_workflows(v: &Vigie) -> (std::path::PathBuf, Vec<String>) {
    let fr = std::fs::read_to_string(common::repo("workflows/fr.yaml")).unwrap();
    let dir = v.dir().join("workflows");
    std::fs::create_dir_all(&dir).unwrap();
    let mut ids = vec!["fr".to_string(), "be".to_string()];
    let variants: [(&str, &[(&str, &str)]); 4] = [
        (
            "fzkiri",
            &[("timezone: Europe/Paris", "timezone: Pacific/Kiritimati")],
        ),
        (
            "fzlord",
            &[("timezone: Europe/Paris", "timezone: Australia/Lord_Howe")],
        ),
        (
            "fzlong",
            &[
                ("within: 72h", "within: 100000 months"),
                ("within: 1 month", "within: 100000w"),
            ],
        ),
        (
            "fzmins",
            &[
                ("within: 72h", "within: 1m"),
                ("timezone: Europe/Paris", "timezone: America/Santiago"),
            ],
        ),
    ];
    for (id, edits) in variants {
        let mut text = fr.replacen("id: fr", &format!("id: {id}"), 1);
        for (from, to) in edits {
            assert!(text.contains(from), "fr.yaml no longer has '{from}'");
            text = text.replace(from, to);
        }
        std::fs::write(dir.join(format!("{id}.yaml")), text).unwrap();
        ids.push(id.to_string());
    }
    let config = v.dir().join("config.yaml");
    std::fs::write(&config, format!("workflows_dir: {}\n", dir.display())).unwrap();
    (config, ids)
}

/// A time that is plausible for a case: some hours to a year before now, local or UTC.
fn recent_time(rng: &mut Rng) -> String {
    let back = Duration::minutes(rng.below(60 * 24 * 400) as i64 + 1);
    let t = Utc::now() - back;
    if rng.chance(50) {
        t.format("%Y-%m-%dT%H:%M").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

fn time_value(rng: &mut Rng) -> String {
    if rng.chance(60) {
        recent_time(rng)
    } else {
        rng.pick(ODD_TIMES).to_string()
    }
}

fn fact_pair(rng: &mut Rng) -> String {
    let fact = rng.pick(FACTS);
    let fitting: &[&str] = match fact {
        "risk" => &["high", "none", "low", "medium"],
        "nature" => &["[confidentiality]", "[integrity, availability]"],
        "subjects_approx" => &["1200", "0", "9223372036854775807"],
        "data_categories" => &["[identity, contact]", "[sensitive]"],
        _ => &[],
    };
    let value = if fact.ends_with("_at") && rng.chance(80) {
        time_value(rng)
    } else if !fitting.is_empty() && rng.chance(70) {
        rng.pick(fitting).to_string()
    } else if rng.chance(15) {
        "x".repeat(rng.below(20_000))
    } else {
        rng.pick(ODD_VALUES).to_string()
    };
    format!("{fact}={value}")
}

#[track_caller]
fn sane(step: usize, args: &[String], out: &Output) {
    assert!(
        matches!(out.code, 0..=2),
        "step {step}: vigie {args:?} exited {}\n{}",
        out.code,
        out.stderr
    );
    assert!(
        !out.stderr.contains("panicked"),
        "step {step}: vigie {args:?} panicked:\n{}",
        out.stderr
    );
    if out.code != 0 {
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert!(
            lines.len() == 1 && lines[0].starts_with("vigie: error: "),
            "step {step}: vigie {args:?} should give one error line:\n{}",
            out.stderr
        );
    }
}

#[test]
fn random_commands_never_panic_and_never_leave_an_unreadable_register() {
    let seed: u64 = std::env::var("VIGIE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026_0009);
    let steps: usize = std::env::var("VIGIE_FUZZ_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    let mut rng = Rng(seed | 1);
    let v = Vigie::new();
    let (config, workflows) = mutated_workflows(&v);
    let config = config.to_str().unwrap().to_string();
    let mut cases: Vec<String> = Vec::new();
    let mut accepted = 0;
    for step in 0..steps {
        let mut args: Vec<String> = vec!["--config".into(), config.clone()];
        let kind = if cases.is_empty() { 0 } else { rng.below(3) };
        let case = cases
            .get(rng.below(cases.len().max(1)))
            .cloned()
            .unwrap_or_default();
        match kind {
            0 => {
                let id = format!("z{step}");
                let wf = workflows[rng.below(workflows.len())].clone();
                args.extend(["case", "open", "--workflow"].map(String::from));
                args.push(wf);
                args.push(format!("--title={}", rng.pick(ODD_VALUES)));
                args.push(format!("--aware-at={}", time_value(&mut rng)));
                args.extend(["--id".into(), id.clone()]);
                for _ in 0..rng.below(3) {
                    args.push(format!("--set={}", fact_pair(&mut rng)));
                }
            }
            1 => {
                args.extend(["case", "set"].map(String::from));
                args.push(case.clone());
                for _ in 0..rng.below(3) + 1 {
                    args.push(fact_pair(&mut rng));
                }
                if rng.chance(30) {
                    args.push(format!("--at={}", time_value(&mut rng)));
                    if rng.chance(60) {
                        args.push(format!("--reason={}", rng.pick(ODD_VALUES)));
                    }
                }
                if rng.chance(20) {
                    args.push(format!("--note={}", rng.pick(ODD_VALUES)));
                }
                if rng.chance(25) {
                    // NUL and the other hostile characters, through a facts file.
                    let file = v.dir().join(format!("facts-{step}.yaml"));
                    let mut text = String::new();
                    for _ in 0..rng.below(3) + 1 {
                        text.push_str(&format!(
                            "{}: {}\n",
                            rng.pick(&[
                                "consequences",
                                "subjects_approx",
                                "records_approx",
                                "nature",
                                "establishment_countries",
                                "subjects_per_country",
                                "measures",
                                "riks",
                            ]),
                            rng.pick(YAML_VALUES)
                        ));
                    }
                    std::fs::write(&file, text).unwrap();
                    args.push(format!("--facts={}", file.display()));
                }
            }
            _ => {
                args.extend(["case", "advance"].map(String::from));
                args.push(case.clone());
                args.push(rng.pick(EVENTS).to_string());
                if rng.chance(60) {
                    args.push(format!("--at={}", time_value(&mut rng)));
                    if rng.chance(60) {
                        args.push(format!("--reason={}", rng.pick(ODD_VALUES)));
                    }
                }
                for _ in 0..rng.below(3) {
                    args.push(format!("--set={}", fact_pair(&mut rng)));
                }
            }
        }
        let offset = rng.pick(&[
            "",
            "",
            "",
            "+71h",
            "-30m",
            "+36525d",
            "-36525d",
            "+100000000d",
        ]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = v.run_env(&refs, &[("VIGIE_NOW_OFFSET", offset)]);
        sane(step, &args, &out);
        if out.code != 0 {
            continue;
        }
        accepted += 1;
        let id = if kind == 0 {
            let id = args[args.iter().position(|a| a == "--id").unwrap() + 1].clone();
            cases.push(id.clone());
            id
        } else {
            case
        };
        // After every accepted write, the whole register still reads.
        for check in [
            vec!["case", "show", id.as_str(), "--json"],
            vec!["case", "list", "--all"],
            vec!["register", "--csv"],
            vec!["audit", "verify"],
        ] {
            let mut full = vec!["--config", config.as_str()];
            full.extend(check);
            let out = v.run(&full);
            let shown: Vec<String> = full.iter().map(|s| s.to_string()).collect();
            sane(step, &shown, &out);
            assert_eq!(
                (out.code, out.stderr.as_str()),
                (0, ""),
                "step {step} (seed {seed}): after vigie {args:?}, vigie {full:?} failed"
            );
        }
    }
    eprintln!(
        "seed {seed}: {accepted} of {steps} commands accepted, {} cases",
        cases.len()
    );
    // A loop that accepts nothing tests nothing.
    assert!(
        accepted >= steps / 10 && cases.len() >= 10,
        "only {accepted} of {steps} commands accepted, {} cases",
        cases.len()
    );
}
