//! Issue 13 part 2: deadlines in the calendar. A real `vigie serve`, the settings page
//! to make each user's calendar address, `GET /calendar.ics` read back with a real
//! parser (Python's `icalendar`, installed by the test when missing), and
//! `vigie calendar` writing the same feed. On both backends.
//!
//! The program's clock is moved to late October 2027 (`VIGIE_NOW_OFFSET`, for the
//! server and every command alike), so that the deadlines cross both DST changes of
//! Europe/Paris: one opened in March (due after clocks went forward) and one in
//! October (due after they went back).

use crate::both_backends;
use crate::common;

use chrono::{DateTime, Utc};
use common::web::{Server, form_token};
use serde_json::Value;
use std::process::Command;

both_backends! {
    feed_of_deadlines_crossing_dst_moved_met_and_per_organisation,
    revoked_and_unknown_tokens_are_refused,
}

/// The shift that makes the program's now `at`.
fn offset_to(at: &str) -> String {
    let target: DateTime<Utc> = at.parse().unwrap();
    format!("+{}s", (target - Utc::now()).num_seconds())
}

const NOW: &str = "2027-10-30T12:00:00Z";

/// A command of the running server's database, at the test's now.
fn vigie(s: &Server, offset: &str, org: &str, args: &[&str]) -> String {
    let mut a = vec!["--org", org];
    a.extend_from_slice(args);
    let out = s.v.run_env(&a, &[("VIGIE_NOW_OFFSET", offset)]);
    assert_eq!(out.code, 0, "vigie {a:?}: {}", out.stderr);
    out.stdout
}

fn open(s: &Server, offset: &str, org: &str, id: &str, title: &str, aware: &str) {
    vigie(
        s,
        offset,
        org,
        &[
            "case",
            "open",
            "--workflow",
            "fr",
            "--title",
            title,
            "--aware-at",
            aware,
            "--id",
            id,
        ],
    );
}

fn get(s: &Server, path: &str, etag: Option<&str>) -> reqwest::blocking::Response {
    let mut r = reqwest::blocking::Client::new().get(s.url(path));
    if let Some(e) = etag {
        r = r.header("if-none-match", e);
    }
    r.send().expect("the server answers")
}

/// The feed parsed by Python's icalendar.
fn parse(s: &Server, ics: &[u8]) -> Value {
    let file = s.v.dir().join(format!(
        "feed-{}.ics",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::write(&file, ics).unwrap();
    let py = common::python_with("icalendar");
    let out = Command::new(py)
        .arg(common::repo("tests/support/ics_events.py"))
        .arg(&file)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "icalendar could not read the feed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(ics)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}

fn feed(s: &Server, path: &str) -> (Value, String) {
    let r = get(s, path, None);
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/calendar; charset=utf-8"
    );
    let body = r.bytes().unwrap().to_vec();
    (parse(s, &body), String::from_utf8(body).unwrap())
}

/// The events of case `id`'s clock `clock` (by summary ending and description).
fn event<'a>(cal: &'a Value, case: &str, clock_title: &str) -> &'a Value {
    cal["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["summary"]
                .as_str()
                .unwrap()
                .ends_with(&format!("— {case}"))
                && e["summary"].as_str().unwrap().starts_with(clock_title)
        })
        .unwrap_or_else(|| panic!("no {clock_title} event of {case} in {cal:#}"))
}

fn case_ids(cal: &Value) -> Vec<String> {
    let mut ids: Vec<String> = cal["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = e["summary"].as_str().unwrap();
            s[s.rfind("— ").unwrap() + "— ".len()..].to_string()
        })
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

const ART33: &str = "Notification à la CNIL";

fn feed_of_deadlines_crossing_dst_moved_met_and_per_organisation() {
    let offset = offset_to(NOW);
    let s = Server::start_with_offset(&offset);
    // Aware on Friday 26 March 2027 at 10:00 (UTC+1): 72 real hours later it is
    // Monday 29 March, 11:00 local, for clocks went forward on Sunday.
    open(
        &s,
        &offset,
        "acme",
        "MAR",
        "Lost laptop",
        "2027-03-26T10:00",
    );
    // Aware on Friday 29 October 2027 at 10:00 (UTC+2): due on Monday 1 November at
    // 09:00 local, clocks having gone back on Sunday 31 October.
    open(&s, &offset, "acme", "OCT", "Phishing", "2027-10-29T10:00");
    open(
        &s,
        &offset,
        "acme",
        "MOVE",
        "Misdirected mail",
        "2027-10-28T10:00",
    );
    open(
        &s,
        &offset,
        "acme",
        "MET",
        "Stolen backup",
        "2027-10-28T09:00",
    );
    open(
        &s,
        &offset,
        "other",
        "THEIRS",
        "Ransomware at Other",
        "2027-10-29T08:00",
    );

    let mut dpo = s.browser("dpo@acme.example");
    let acme_path = common::web::calendar_address(&mut dpo);
    let (cal, text) = feed(&s, &acme_path);
    assert!(cal["name"].as_str().unwrap().contains("ACME SA"), "{cal:#}");
    assert_eq!(cal["timezones"], serde_json::json!(["Europe/Paris"]));

    // Across the spring change: local time and offset, by icalendar's own reading of
    // the TZID and by the feed's VTIMEZONE alone.
    let mar = event(&cal, "MAR", ART33);
    assert_eq!(mar["tzid"], "Europe/Paris");
    assert_eq!(mar["start_local"], "2027-03-29T11:00:00");
    assert_eq!(mar["start_offset"], 7200);
    assert_eq!(mar["own_offset"], 7200);
    assert_eq!(mar["start_utc"], "2027-03-29T09:00:00Z");
    assert_eq!(mar["status"], "CONFIRMED", "overdue, still to do");
    // The alarms are the workflow's reminders: 48 h, 24 h, 6 h and 1 h before, and at
    // the due time.
    assert_eq!(
        mar["alarms"],
        serde_json::json!([-172800, -86400, -21600, -3600, 0])
    );
    assert!(
        mar["description"]
            .as_str()
            .unwrap()
            .contains("RGPD art. 33(1)")
    );
    assert!(mar["description"].as_str().unwrap().contains("Lost laptop"));
    assert_eq!(mar["url"], s.url("/cases/MAR"));

    // Across the autumn change.
    let oct = event(&cal, "OCT", ART33);
    assert_eq!(oct["start_local"], "2027-11-01T09:00:00");
    assert_eq!(oct["start_offset"], 3600);
    assert_eq!(oct["own_offset"], 3600);
    assert_eq!(oct["start_utc"], "2027-11-01T08:00:00Z");

    // Only acme's cases, and no word of the other organisation.
    assert_eq!(case_ids(&cal), ["MAR", "MET", "MOVE", "OCT"]);
    assert!(
        !text.contains("Other SA") && !text.contains("Ransomware"),
        "{text}"
    );

    // A moved deadline: same UID, higher SEQUENCE, new time.
    let moved_before = event(&cal, "MOVE", ART33).clone();
    assert_eq!(moved_before["sequence"], 0);
    // 10:00 UTC+2 on the 28th, plus 72 hours: 08:00 UTC on the 31st (09:00 UTC+1).
    assert_eq!(moved_before["start_utc"], "2027-10-31T08:00:00Z");
    vigie(
        &s,
        &offset,
        "acme",
        &["case", "set", "MOVE", "aware_at=2027-10-28T14:00"],
    );
    // A met one: notified to the CNIL in time.
    vigie(
        &s,
        &offset,
        "acme",
        &[
            "case",
            "advance",
            "MET",
            "notify_authority",
            "--set",
            "nature=[availability]",
            "--set",
            "subjects_approx=10",
            "--set",
            "data_categories=[contact]",
            "--set",
            "consequences=None known",
            "--set",
            "measures=Restored from backup",
        ],
    );
    let (cal2, _) = feed(&s, &acme_path);
    let moved = event(&cal2, "MOVE", ART33);
    assert_eq!(moved["uid"], moved_before["uid"]);
    assert_eq!(moved["sequence"], 1);
    assert_eq!(moved["start_utc"], "2027-10-31T12:00:00Z");
    assert_eq!(moved["start_local"], "2027-10-31T13:00:00");
    assert_eq!(moved["start_offset"], 3600, "after clocks went back");
    let met_before = event(&cal, "MET", ART33);
    let met = event(&cal2, "MET", ART33);
    assert_eq!(met["uid"], met_before["uid"]);
    assert_eq!(met["status"], "CANCELLED");
    assert!(met["sequence"].as_u64() > met_before["sequence"].as_u64());
    assert_eq!(
        met["alarms"],
        serde_json::json!([]),
        "no alarm for a met deadline"
    );
    // Unchanged deadlines keep their SEQUENCE and UID.
    assert_eq!(event(&cal2, "OCT", ART33), oct);

    // The same bytes again: the ETag answers 304.
    let r = get(&s, &acme_path, None);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(r.headers().contains_key("last-modified"));
    assert_eq!(get(&s, &acme_path, Some(&etag)).status().as_u16(), 304);

    // The other organisation's feed: its own case and name only.
    let mut theirs = s.browser("dpo@other.example");
    let other_path = common::web::calendar_address(&mut theirs);
    let (ocal, otext) = feed(&s, &other_path);
    assert_eq!(case_ids(&ocal), ["THEIRS"]);
    assert!(ocal["name"].as_str().unwrap().contains("Other SA"));
    assert!(
        !otext.contains("ACME") && !otext.contains("Lost laptop"),
        "{otext}"
    );

    // `vigie calendar` writes the same feed (without links: no public address here).
    let out = s.v.dir().join("acme.ics");
    vigie(
        &s,
        &offset,
        "acme",
        &["calendar", "--out", out.to_str().unwrap()],
    );
    let cli = parse(&s, &std::fs::read(&out).unwrap());
    let strip = |c: &Value| -> Vec<Value> {
        c["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e["url"] = Value::Null;
                e["description"] = Value::Null;
                e
            })
            .collect()
    };
    assert_eq!(strip(&cli), strip(&cal2));
    let stdout = vigie(&s, &offset, "other", &["calendar"]);
    assert_eq!(case_ids(&parse(&s, stdout.as_bytes())), ["THEIRS"]);
}

fn revoked_and_unknown_tokens_are_refused() {
    let offset = offset_to(NOW);
    let s = Server::start_with_offset(&offset);
    open(&s, &offset, "acme", "A1", "Lost laptop", "2027-10-29T10:00");
    let mut viewer = s.browser("viewer@acme.example");
    let path = common::web::calendar_address(&mut viewer);
    assert_eq!(
        get(&s, &path, None).status().as_u16(),
        200,
        "a viewer has one too"
    );

    let unknown = get(&s, "/calendar.ics?token=vcal_0123456789abcdef", None);
    assert_eq!(unknown.status().as_u16(), 404);
    let unknown_body = unknown.text().unwrap();
    // An API token opens no feed; no token neither.
    let api = format!("/calendar.ics?token={}", s.token("viewer@acme.example"));
    assert_eq!(get(&s, &api, None).status().as_u16(), 404);
    assert_eq!(get(&s, "/calendar.ics", None).status().as_u16(), 404);

    // Revoked on the settings page: 410 Gone, so that calendar clients stop asking
    // (issue 23, N1), and nothing else told about it.
    let (_, html, _) = viewer.get("/settings");
    let csrf = form_token(&html, "/settings/calendar").unwrap();
    let r = viewer.post_form(
        "/settings/calendar",
        &[("_csrf", &csrf), ("action", "revoke")],
    );
    assert_eq!(r.status().as_u16(), 303);
    let revoked = get(&s, &path, None);
    assert_eq!(revoked.status().as_u16(), 410);
    assert!(!revoked.text().unwrap().contains("viewer"));
    assert!(unknown_body.starts_with("not found"));

    // A replaced address: the old one stops working, the new one works.
    let first = common::web::calendar_address(&mut viewer);
    let (_, html, _) = viewer.get("/settings");
    let csrf = form_token(&html, "/settings/calendar").unwrap();
    let r = viewer.post_form("/settings/calendar", &[("_csrf", &csrf), ("action", "new")]);
    let html = r.text().unwrap();
    assert!(html.contains("calendar-url"));
    assert_eq!(get(&s, &first, None).status().as_u16(), 410);

    // Unknown tokens count on the feed's own limiter of the address: locked, then 429.
    let mut last = 0;
    for _ in 0..25 {
        last = get(&s, "/calendar.ics?token=vcal_guess", None)
            .status()
            .as_u16();
        if last == 429 {
            break;
        }
        assert_eq!(last, 404);
    }
    assert_eq!(last, 429, "guessing is throttled");
    assert!(
        !s.log().contains("vcal_0123456789abcdef"),
        "a token in the log"
    );
}
