//! Time: reading instants typed by a DPO, the durations of workflows, and showing
//! instants in a workflow's zone.
//!
//! Instants are stored in UTC. Hours and minutes are absolute; days, weeks and months
//! are calendar arithmetic in the workflow's IANA zone (see docs/workflow-format.md).

use chrono::{
    DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, Offset, TimeZone,
    Utc,
};
use chrono_tz::Tz;
use std::fmt;

/// The current instant. `VIGIE_NOW_OFFSET` (`+71h`, `-30m`, `+90s`) shifts it, so that
/// drills and tests move time instead of waiting hours. Checked by the CLI at start.
pub fn now() -> DateTime<Utc> {
    Utc::now() + now_offset().unwrap_or_default()
}

/// The shift given by `VIGIE_NOW_OFFSET`, if any.
pub fn now_offset() -> Result<Duration, String> {
    static OFFSET: std::sync::OnceLock<Result<Duration, String>> = std::sync::OnceLock::new();
    OFFSET
        .get_or_init(|| match std::env::var("VIGIE_NOW_OFFSET") {
            Err(_) => Ok(Duration::zero()),
            Ok(v) => parse_offset(&v).ok_or_else(|| {
                format!("VIGIE_NOW_OFFSET '{v}' is not a shift such as +71h, -30m or +90s")
            }),
        })
        .clone()
}

fn parse_offset(v: &str) -> Option<Duration> {
    let v = v.trim();
    let (sign, rest) = match v.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, v.strip_prefix('+').unwrap_or(v)),
    };
    if rest.is_empty() {
        return Some(Duration::zero());
    }
    let (num, unit) = rest.split_at(rest.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = num.parse().ok()?;
    let d = match unit {
        "s" => Duration::seconds(n),
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => return None,
    };
    Some(d * sign)
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TimeError {
    #[error("{q_0} is not a time: use RFC 3339, e.g. 2026-10-23T10:00:00+02:00, or a local 2026-10-23T10:00", q_0 = crate::util::quote(.0))]
    Unparsable(String),
    #[error("{q_input} happens twice in {zone} (clocks go back): give the offset, {first} or {second}", q_input = crate::util::quote(.input))]
    Ambiguous {
        input: String,
        zone: Tz,
        first: String,
        second: String,
    },
    #[error("{q_input} does not exist in {zone} (clocks go forward): did you mean {before} or {after}?", q_input = crate::util::quote(.input))]
    Skipped {
        input: String,
        zone: Tz,
        before: String,
        after: String,
    },
}

/// Reads an RFC 3339 instant, or a local date-time without offset in `zone`.
/// A local time made ambiguous or skipped by a DST change is an error naming the candidates.
pub fn parse_instant(input: &str, zone: Tz) -> Result<DateTime<Utc>, TimeError> {
    let s = input.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(dt.with_timezone(&Utc));
    }
    // RFC 3339 with a space instead of T, or without seconds, with an offset.
    for fmt in [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%dT%H:%M%:z",
        "%Y-%m-%d %H:%M%:z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Ok(dt.with_timezone(&Utc));
        }
    }
    if let Some(stripped) = s.strip_suffix('Z')
        && let Some(naive) = parse_naive(stripped)
    {
        return Ok(Utc.from_utc_datetime(&naive));
    }
    let naive = parse_naive(s).ok_or_else(|| TimeError::Unparsable(s.to_string()))?;
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(dt) => Ok(dt.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Err(TimeError::Ambiguous {
            input: s.to_string(),
            zone,
            first: a.to_rfc3339(),
            second: b.to_rfc3339(),
        }),
        LocalResult::None => {
            let (before, after) = gap_bounds(zone, naive);
            Err(TimeError::Skipped {
                input: s.to_string(),
                zone,
                before: before.to_rfc3339(),
                after: after.to_rfc3339(),
            })
        }
    }
}

fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    for fmt in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(n);
        }
    }
    None
}

/// The last instant before and the first after a local-time gap containing `naive`.
fn gap_bounds(zone: Tz, naive: NaiveDateTime) -> (DateTime<Tz>, DateTime<Tz>) {
    let mut before = naive;
    let mut after = naive;
    // Gaps are at most a few hours; walk minute by minute to their edges.
    for _ in 0..(24 * 60) {
        before -= Duration::minutes(1);
        if let Some(dt) = zone.from_local_datetime(&before).earliest() {
            let mut after_dt = None;
            for _ in 0..(24 * 60) {
                after += Duration::minutes(1);
                if let Some(a) = zone.from_local_datetime(&after).earliest() {
                    after_dt = Some(a);
                    break;
                }
            }
            return (dt, after_dt.unwrap_or(dt));
        }
    }
    let dt = Utc.from_utc_datetime(&naive).with_timezone(&zone);
    (dt, dt)
}

/// A workflow duration: absolute (minutes, hours) or calendar (days, months).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    Minutes(i64),
    Hours(i64),
    Days(i64),
    Weeks(i64),
    Months(u32),
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{q_0} is not a duration: use a number and a unit, e.g. 30m, 72h, 3d, 2w, 1 month", q_0 = crate::util::quote(.0))]
pub struct PeriodError(pub String);

impl Period {
    pub fn parse(input: &str) -> Result<Period, PeriodError> {
        let s = input.trim();
        let split = s
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| PeriodError(s.to_string()))?;
        let (num, unit) = s.split_at(split);
        let n: i64 = num.parse().map_err(|_| PeriodError(s.to_string()))?;
        if n <= 0 || n > 100_000 {
            return Err(PeriodError(s.to_string()));
        }
        Ok(match unit.trim() {
            "m" | "min" | "mins" | "minute" | "minutes" => Period::Minutes(n),
            "h" | "hour" | "hours" => Period::Hours(n),
            "d" | "day" | "days" => Period::Days(n),
            "w" | "week" | "weeks" => Period::Weeks(n),
            "mo" | "month" | "months" => {
                Period::Months(u32::try_from(n).map_err(|_| PeriodError(s.to_string()))?)
            }
            _ => return Err(PeriodError(s.to_string())),
        })
    }

    /// `start + self`: absolute for minutes and hours, calendar arithmetic in `zone`
    /// for days, weeks and months (same local time; month ends clamp to the last day).
    pub fn add_to(self, start: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        match self {
            Period::Minutes(n) => start + Duration::minutes(n),
            Period::Hours(n) => start + Duration::hours(n),
            Period::Days(n) => calendar(start, zone, |d| d + chrono::Days::new(n as u64)),
            Period::Weeks(n) => calendar(start, zone, |d| d + chrono::Days::new(7 * n as u64)),
            // chrono's Months clamps the 31st to the last day of a shorter month.
            Period::Months(n) => calendar(start, zone, |d| d + Months::new(n)),
        }
    }

    /// `end - self`, the mirror of `add_to` (for reminders before a deadline).
    pub fn sub_from(self, end: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        match self {
            Period::Minutes(n) => end - Duration::minutes(n),
            Period::Hours(n) => end - Duration::hours(n),
            Period::Days(n) => calendar(end, zone, |d| d - chrono::Days::new(n as u64)),
            Period::Weeks(n) => calendar(end, zone, |d| d - chrono::Days::new(7 * n as u64)),
            Period::Months(n) => calendar(end, zone, |d| d - Months::new(n)),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Minutes(n) => write!(f, "{n}m"),
            Period::Hours(n) => write!(f, "{n}h"),
            Period::Days(n) => write!(f, "{n}d"),
            Period::Weeks(n) => write!(f, "{n}w"),
            Period::Months(1) => write!(f, "1 month"),
            Period::Months(n) => write!(f, "{n} months"),
        }
    }
}

fn calendar(
    start: DateTime<Utc>,
    zone: Tz,
    shift: impl Fn(NaiveDateTime) -> NaiveDateTime,
) -> DateTime<Utc> {
    let local = start.with_timezone(&zone);
    let target = shift(local.naive_local());
    resolve_local(zone, target)
}

/// A local time to an instant: the earlier one when it exists twice, and when it does
/// not exist, the same wall time read with the offset in force before the gap.
fn resolve_local(zone: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
    match zone.from_local_datetime(&naive) {
        LocalResult::Single(dt) => dt.with_timezone(&Utc),
        LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        LocalResult::None => {
            let probe = naive - Duration::hours(3);
            let before = zone
                .from_local_datetime(&probe)
                .earliest()
                .map(|d| d.offset().fix())
                .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("zero offset"));
            let utc = naive - Duration::seconds(i64::from(before.local_minus_utc()));
            Utc.from_utc_datetime(&utc)
        }
    }
}

/// RFC 3339 in the zone, with its offset: `2026-10-26T09:00:00+01:00`.
pub fn rfc3339_in(dt: DateTime<Utc>, zone: Tz) -> String {
    dt.with_timezone(&zone)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Short local form for tables: `2026-10-26 09:00 +01:00`.
pub fn short_in(dt: DateTime<Utc>, zone: Tz) -> String {
    dt.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M %:z")
        .to_string()
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Fr,
    En,
}

impl Lang {
    /// Every language vigie offers: pages, drafts and letters exist in each.
    pub const ALL: [Lang; 2] = [Lang::Fr, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

const FR_DAYS: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];
const EN_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const FR_MONTHS: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Written out in the language, in the zone, with the offset:
/// "lundi 11 octobre 2021 à 08:00 (UTC+02:00)" / "Monday 11 October 2021 at 08:00 (UTC+02:00)".
pub fn long_in(dt: DateTime<Utc>, zone: Tz, lang: Lang) -> String {
    let l = dt.with_timezone(&zone);
    let wd = l.weekday().num_days_from_monday() as usize;
    let m = l.month0() as usize;
    let offset = l.format("%:z");
    match lang {
        Lang::Fr => format!(
            "{} {} {} {} à {} (UTC{})",
            FR_DAYS[wd],
            if l.day() == 1 {
                "1er".to_string()
            } else {
                l.day().to_string()
            },
            FR_MONTHS[m],
            l.year(),
            l.format("%H:%M"),
            offset
        ),
        Lang::En => format!(
            "{} {} {} {} at {} (UTC{})",
            EN_DAYS[wd],
            l.day(),
            EN_MONTHS[m],
            l.year(),
            l.format("%H:%M"),
            offset
        ),
    }
}

/// A date without time, written out: "9 janvier 2026" / "9 January 2026".
pub fn date_in(d: NaiveDate, lang: Lang) -> String {
    let m = d.month0() as usize;
    match lang {
        Lang::Fr => format!("{} {} {}", d.day(), FR_MONTHS[m], d.year()),
        Lang::En => format!("{} {} {}", d.day(), EN_MONTHS[m], d.year()),
    }
}

/// "2 d 4 h", "5 h 12 min", "40 min": a human span for time left or late.
pub fn span(d: Duration) -> String {
    let mins = d.num_minutes().abs();
    let (days, hours, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {m:02} min")
    } else {
        format!("{m} min")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Paris;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn hours_are_absolute_across_fall_back() {
        let aware = parse_instant("2026-10-23T10:00", Paris).unwrap();
        let due = Period::Hours(72).add_to(aware, Paris);
        assert_eq!(rfc3339_in(due, Paris), "2026-10-26T09:00:00+01:00");
    }

    #[test]
    fn hours_are_absolute_across_spring_forward() {
        let aware = parse_instant("2026-03-27T12:00", Paris).unwrap();
        let due = Period::Hours(72).add_to(aware, Paris);
        assert_eq!(rfc3339_in(due, Paris), "2026-03-30T13:00:00+02:00");
    }

    #[test]
    fn days_keep_local_time_across_dst() {
        let start = parse_instant("2026-10-23T10:00", Paris).unwrap();
        let due = Period::Days(3).add_to(start, Paris);
        assert_eq!(rfc3339_in(due, Paris), "2026-10-26T10:00:00+01:00");
        assert_eq!(due - start, Duration::hours(73));
    }

    #[test]
    fn a_month_from_the_31st_clamps_to_the_month_end() {
        let start = parse_instant("2026-01-31T15:30", Paris).unwrap();
        let due = Period::Months(1).add_to(start, Paris);
        assert_eq!(rfc3339_in(due, Paris), "2026-02-28T15:30:00+01:00");
        let leap = parse_instant("2028-01-31T15:30", Paris).unwrap();
        assert_eq!(
            rfc3339_in(Period::Months(1).add_to(leap, Paris), Paris),
            "2028-02-29T15:30:00+01:00"
        );
        // Across the spring DST change: same local time, new offset.
        let march = parse_instant("2026-03-15T09:00", Paris).unwrap();
        assert_eq!(
            rfc3339_in(Period::Months(1).add_to(march, Paris), Paris),
            "2026-04-15T09:00:00+02:00"
        );
    }

    #[test]
    fn a_calendar_result_in_a_gap_or_overlap_is_resolved_conservatively() {
        // 2026-03-28 02:30 + 1 day = 2026-03-29 02:30, which does not exist in Paris.
        let start = parse_instant("2026-03-28T02:30", Paris).unwrap();
        let due = Period::Days(1).add_to(start, Paris);
        assert_eq!(rfc3339_in(due, Paris), "2026-03-29T03:30:00+02:00");
        // 2026-10-24 02:30 + 1 day = 2026-10-25 02:30, which happens twice: take the first.
        let start = parse_instant("2026-10-24T02:30", Paris).unwrap();
        let due = Period::Days(1).add_to(start, Paris);
        assert_eq!(rfc3339_in(due, Paris), "2026-10-25T02:30:00+02:00");
    }

    #[test]
    fn local_times_in_dst_changes_are_errors_naming_candidates() {
        let e = parse_instant("2026-10-25T02:30", Paris).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("2026-10-25T02:30:00+02:00"), "{msg}");
        assert!(msg.contains("2026-10-25T02:30:00+01:00"), "{msg}");
        let e = parse_instant("2026-03-29T02:30", Paris).unwrap_err();
        assert!(matches!(e, TimeError::Skipped { .. }), "{e}");
        assert!(e.to_string().contains("2026-03-29T01:59:00+01:00"), "{e}");
        assert!(e.to_string().contains("2026-03-29T03:00:00+02:00"), "{e}");
    }

    #[test]
    fn parses_offsets_and_local_times() {
        assert_eq!(
            parse_instant("2021-10-11T08:00:00+02:00", Paris).unwrap(),
            utc("2021-10-11T06:00:00Z")
        );
        assert_eq!(
            parse_instant("2021-10-11 08:00", Paris).unwrap(),
            utc("2021-10-11T06:00:00Z")
        );
        assert_eq!(
            parse_instant("2021-10-11T06:00Z", Paris).unwrap(),
            utc("2021-10-11T06:00:00Z")
        );
        assert!(parse_instant("11/10/2021", Paris).is_err());
    }

    #[test]
    fn periods_parse() {
        assert_eq!(Period::parse("72h"), Ok(Period::Hours(72)));
        assert_eq!(Period::parse("1 month"), Ok(Period::Months(1)));
        assert_eq!(Period::parse("30 days"), Ok(Period::Days(30)));
        assert_eq!(Period::parse("2w"), Ok(Period::Weeks(2)));
        assert!(Period::parse("72").is_err());
        assert!(Period::parse("0h").is_err());
        assert!(Period::parse("h").is_err());
        assert!(Period::parse("3 fortnights").is_err());
    }

    #[test]
    fn long_dates_in_both_languages() {
        let t = parse_instant("2021-10-11T08:00", Paris).unwrap();
        assert_eq!(
            long_in(t, Paris, Lang::Fr),
            "lundi 11 octobre 2021 à 08:00 (UTC+02:00)"
        );
        assert_eq!(
            long_in(t, Paris, Lang::En),
            "Monday 11 October 2021 at 08:00 (UTC+02:00)"
        );
    }
}
