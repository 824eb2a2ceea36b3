//! iCalendar (RFC 5545) text for deadlines: the one writer of `.ics` for the calendar
//! feed (`/calendar.ics`, `vigie calendar`). Each deadline is a VEVENT in its
//! workflow's time zone, with a VTIMEZONE generated from the IANA rules (chrono-tz) for
//! the years the feed covers, so that a client without that zone's rules (or with
//! older ones) still shows the right local time and offset on both sides of a DST change.
//!
//! Written by hand rather than with the `icalendar` crate (which the reminder e-mail's
//! single event still uses): that crate has no VTIMEZONE and keeps one property per
//! name in a component, where a VTIMEZONE needs several observances with their own
//! DTSTART. The output is deterministic: the same deadlines give the same bytes (the
//! feed's ETag is their hash).

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One deadline of the feed.
#[derive(Debug, Clone)]
pub struct Deadline {
    /// Stable across requests, instances and moves of the due time.
    pub uid: String,
    /// How many times the due time (or whether the deadline still runs) changed.
    pub sequence: u32,
    /// When it last changed (DTSTAMP and LAST-MODIFIED).
    pub changed_at: DateTime<Utc>,
    pub due: DateTime<Utc>,
    pub zone: Tz,
    /// Met, no longer applying, or its case closed: `STATUS:CANCELLED`, no alarms.
    pub cancelled: bool,
    pub summary: String,
    pub description: String,
    pub url: Option<String>,
    /// The reminders, as instants (each the workflow's `remind_before` offset counted
    /// back from the due time as the e-mails are, then the due time itself).
    pub alarms: Vec<DateTime<Utc>>,
}

/// A whole calendar named `name`, with its deadlines.
pub fn feed(name: &str, deadlines: &[Deadline]) -> String {
    let mut w = Writer::default();
    w.line("BEGIN:VCALENDAR");
    w.line("VERSION:2.0");
    w.line("PRODID:-//vigie//deadlines//EN");
    w.line("CALSCALE:GREGORIAN");
    w.line("METHOD:PUBLISH");
    w.prop("NAME", &text(name));
    w.prop("X-WR-CALNAME", &text(name));
    // The years covered, per zone: each VTIMEZONE holds the transitions of those years.
    let mut zones: BTreeMap<&str, (Tz, i32, i32)> = BTreeMap::new();
    for d in deadlines {
        let from = d
            .alarms
            .iter()
            .copied()
            .chain([d.due])
            .min()
            .unwrap_or(d.due);
        let (lo, hi) = (
            from.with_timezone(&d.zone).year(),
            d.due.with_timezone(&d.zone).year(),
        );
        let e = zones.entry(d.zone.name()).or_insert((d.zone, lo, hi));
        e.1 = e.1.min(lo);
        e.2 = e.2.max(hi);
    }
    for (zone, lo, hi) in zones.values() {
        vtimezone(&mut w, *zone, *lo, *hi);
    }
    for d in deadlines {
        vevent(&mut w, d);
    }
    w.line("END:VCALENDAR");
    w.out
}

fn vevent(w: &mut Writer, d: &Deadline) {
    w.line("BEGIN:VEVENT");
    w.prop("UID", &text(&d.uid));
    w.prop("SEQUENCE", &d.sequence.to_string());
    w.prop("DTSTAMP", &utc(d.changed_at));
    w.prop("LAST-MODIFIED", &utc(d.changed_at));
    match local(d.due, d.zone) {
        Some(l) => w.line(&format!("DTSTART;TZID={}:{l}", d.zone.name())),
        // The second 02:30 of an autumn night: a local time names the first one.
        None => w.prop("DTSTART", &utc(d.due)),
    }
    w.prop("DURATION", "PT15M");
    w.prop("SUMMARY", &text(&d.summary));
    w.prop("DESCRIPTION", &text(&d.description));
    if let Some(u) = &d.url {
        w.prop("URL", u);
    }
    w.prop(
        "STATUS",
        if d.cancelled {
            "CANCELLED"
        } else {
            "CONFIRMED"
        },
    );
    w.prop("TRANSP", "TRANSPARENT");
    if !d.cancelled {
        for a in &d.alarms {
            w.line("BEGIN:VALARM");
            w.prop("ACTION", "DISPLAY");
            w.prop("DESCRIPTION", &text(&d.summary));
            w.prop("TRIGGER", &before(*a - d.due));
            w.line("END:VALARM");
        }
    }
    w.line("END:VEVENT");
}

/// A VTIMEZONE with the observance in force at the start of `lo` and every transition
/// up to the end of `hi` (found by scanning the zone's offsets day by day, then to the
/// second): explicit onsets, no RRULE, so it is exactly what chrono-tz says.
fn vtimezone(w: &mut Writer, zone: Tz, lo: i32, hi: i32) {
    let start = Utc
        .with_ymd_and_hms(lo, 1, 1, 0, 0, 0)
        .single()
        .expect("1 January exists");
    let end = Utc
        .with_ymd_and_hms(hi + 1, 1, 1, 0, 0, 0)
        .single()
        .expect("1 January exists");
    w.line("BEGIN:VTIMEZONE");
    w.prop("TZID", zone.name());
    let first = zone.offset_from_utc_datetime(&start.naive_utc());
    let secs = |o: &<Tz as TimeZone>::Offset| o.fix().local_minus_utc();
    observance(w, &first, secs(&first), start);
    let mut t = start;
    let mut before = first;
    while t < end {
        let next = t + Duration::days(1);
        let after = zone.offset_from_utc_datetime(&next.naive_utc());
        if secs(&after) != secs(&before) || after.abbreviation() != before.abbreviation() {
            // The first second of the day [t, next) with the new offset.
            let (mut a, mut b) = (t, next);
            while b - a > Duration::seconds(1) {
                let mid = a + (b - a) / 2;
                let o = zone.offset_from_utc_datetime(&mid.naive_utc());
                if secs(&o) == secs(&before) && o.abbreviation() == before.abbreviation() {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            observance(w, &after, secs(&before), b);
            before = after;
        }
        t = next;
    }
    w.line("END:VTIMEZONE");
}

/// One onset: at `at` (UTC), from `from` seconds east of UTC to `to`'s offset.
fn observance(w: &mut Writer, to: &<Tz as TimeZone>::Offset, from: i32, at: DateTime<Utc>) {
    let kind = if to.dst_offset().is_zero() {
        "STANDARD"
    } else {
        "DAYLIGHT"
    };
    w.line(&format!("BEGIN:{kind}"));
    // An onset is written in the local time in force before it.
    let local_before = at.naive_utc() + Duration::seconds(from as i64);
    w.prop("DTSTART", &local_before.format("%Y%m%dT%H%M%S").to_string());
    w.prop("TZOFFSETFROM", &offset(from));
    w.prop("TZOFFSETTO", &offset(to.fix().local_minus_utc()));
    if let Some(name) = to.abbreviation() {
        w.prop("TZNAME", &text(name));
    }
    w.line(&format!("END:{kind}"));
}

/// The local date-time of `t` in `zone`, when that local time names `t` (None for the
/// second pass of an hour repeated when clocks go back).
fn local(t: DateTime<Utc>, zone: Tz) -> Option<String> {
    let l: NaiveDateTime = t.with_timezone(&zone).naive_local();
    match zone.from_local_datetime(&l) {
        chrono::LocalResult::Single(x) if x == t => {}
        chrono::LocalResult::Ambiguous(first, _) if first == t => {}
        _ => return None,
    }
    Some(l.format("%Y%m%dT%H%M%S").to_string())
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// `+0100`, `-0330`, `+001408` (seconds only when there are some).
fn offset(secs: i32) -> String {
    let sign = if secs < 0 { '-' } else { '+' };
    let s = secs.unsigned_abs();
    let (h, m, r) = (s / 3600, s / 60 % 60, s % 60);
    if r == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{r:02}")
    }
}

/// A trigger relative to the start, exact to the second: `-PT48H`, `-PT23H`, `PT0S`.
fn before(d: Duration) -> String {
    let s = d.num_seconds();
    if s == 0 {
        return "PT0S".into();
    }
    let sign = if s < 0 { "-" } else { "" };
    let s = s.unsigned_abs();
    let (h, m, r) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = format!("{sign}PT");
    if h > 0 {
        let _ = write!(out, "{h}H");
    }
    if m > 0 {
        let _ = write!(out, "{m}M");
    }
    if r > 0 {
        let _ = write!(out, "{r}S");
    }
    out
}

/// A TEXT value: backslash, semicolon, comma and line breaks escaped; other control
/// characters dropped.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Content lines: CRLF, folded at 75 octets on character boundaries.
#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    fn prop(&mut self, name: &str, value: &str) {
        self.line(&format!("{name}:{value}"));
    }

    fn line(&mut self, line: &str) {
        let mut width = 0;
        for c in line.chars() {
            let n = c.len_utf8();
            if width + n > 75 {
                self.out.push_str("\r\n ");
                width = 1;
            }
            self.out.push(c);
            width += n;
        }
        self.out.push_str("\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn paris_has_both_2027_transitions_at_the_right_instants() {
        let mut w = Writer::default();
        vtimezone(&mut w, chrono_tz::Europe::Paris, 2027, 2027);
        let s = w.out;
        // 28 March 2027, 01:00 UTC = 02:00 CET becomes 03:00 CEST.
        assert!(s.contains("BEGIN:DAYLIGHT\r\nDTSTART:20270328T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"), "{s}");
        // 31 October 2027, 01:00 UTC = 03:00 CEST becomes 02:00 CET.
        assert!(s.contains("BEGIN:STANDARD\r\nDTSTART:20271031T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"), "{s}");
    }

    #[test]
    fn the_second_pass_of_a_repeated_hour_is_written_in_utc() {
        let paris = chrono_tz::Europe::Paris;
        assert_eq!(
            local(at("2027-10-31T00:30:00Z"), paris).as_deref(),
            Some("20271031T023000")
        );
        assert_eq!(local(at("2027-10-31T01:30:00Z"), paris), None);
    }

    #[test]
    fn lines_are_folded_within_75_octets_and_text_escaped() {
        let mut w = Writer::default();
        w.prop("SUMMARY", &text(&"é; a, b\\\n".repeat(20)));
        for l in w.out.split("\r\n") {
            assert!(l.len() <= 75, "{l}");
        }
        assert!(w.out.starts_with("SUMMARY:é\\; a\\, b\\\\\\n"));
        assert_eq!(before(Duration::hours(-48)), "-PT48H");
        assert_eq!(before(Duration::minutes(-90)), "-PT1H30M");
        assert_eq!(offset(3600), "+0100");
        assert_eq!(offset(-12600), "-0330");
    }
}
