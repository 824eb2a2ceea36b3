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

/// The earliest instant vigie accepts: 1970-01-01T00:00:00Z.
pub fn min_instant() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The latest instant vigie accepts or computes: 9999-12-30T00:00:00Z. A day short of
/// the end of year 9999, so that the instant written in any zone (offsets are under a
/// day) still has four digits of year, and RFC 3339 reads it back.
pub fn max_instant() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 30, 0, 0, 0)
        .single()
        .expect("a valid date")
}

/// The bounds, in words, for error messages.
pub const BOUNDS: &str = "from 1970-01-01 to 9999-12-30 (UTC)";

/// Whether an instant is within [`min_instant`]..=[`max_instant`]: what every stored
/// instant must be, so that it reads back.
pub fn in_bounds(t: DateTime<Utc>) -> bool {
    (min_instant()..=max_instant()).contains(&t)
}

/// `t` moved into the bounds: for due times computed from long workflow periods.
fn clamp(t: DateTime<Utc>) -> DateTime<Utc> {
    t.clamp(min_instant(), max_instant())
}

/// The largest shift `VIGIE_NOW_OFFSET` may give, either way: about a century.
pub const MAX_NOW_OFFSET_DAYS: i64 = 36_525;

/// The current instant. `VIGIE_NOW_OFFSET` (`+71h`, `-30m`, `+90s`) shifts it, so that
/// drills and tests move time instead of waiting hours; `VIGIE_NOW` (RFC 3339) stops it
/// at one instant, so that two runs compared by a test say the same time. Both are
/// checked by the CLI at start.
///
/// To the microsecond: what PostgreSQL's `timestamptz` keeps, so that an instant vigie
/// stores reads back the same from either backend, and after `vigie store copy`.
pub fn now() -> DateTime<Utc> {
    let base = fixed_now().ok().flatten().unwrap_or_else(Utc::now);
    let t = clamp(base + now_offset().unwrap_or_default());
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// The instant given by `VIGIE_NOW`, if any: the clock stopped there.
pub fn fixed_now() -> Result<Option<DateTime<Utc>>, String> {
    static FIXED: std::sync::OnceLock<Result<Option<DateTime<Utc>>, String>> =
        std::sync::OnceLock::new();
    FIXED
        .get_or_init(|| match std::env::var("VIGIE_NOW") {
            Err(_) => Ok(None),
            Ok(v) if v.trim().is_empty() => Ok(None),
            Ok(v) => DateTime::parse_from_rfc3339(v.trim())
                .ok()
                .map(|t| t.to_utc())
                .filter(|t| in_bounds(*t))
                .map(Some)
                .ok_or_else(|| {
                    format!(
                        "VIGIE_NOW '{}' is not an instant such as 2026-03-27T10:00:00Z",
                        v.escape_debug()
                    )
                }),
        })
        .clone()
}

/// The shift given by `VIGIE_NOW_OFFSET`, if any.
pub fn now_offset() -> Result<Duration, String> {
    static OFFSET: std::sync::OnceLock<Result<Duration, String>> = std::sync::OnceLock::new();
    OFFSET
        .get_or_init(|| match std::env::var("VIGIE_NOW_OFFSET") {
            Err(_) => Ok(Duration::zero()),
            Ok(v) => parse_offset(&v).ok_or_else(|| {
                format!(
                    "VIGIE_NOW_OFFSET '{}' is not a shift such as +71h, -30m or +90s, of at most {MAX_NOW_OFFSET_DAYS} days",
                    v.escape_debug()
                )
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
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    let secs = n.checked_mul(unit_secs)?;
    if secs > MAX_NOW_OFFSET_DAYS * 86_400 {
        return None;
    }
    Some(Duration::seconds(secs * sign))
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
    #[error("'{0}' is outside the times vigie keeps: {BOUNDS}")]
    OutOfBounds(String),
}

/// Reads an RFC 3339 instant, or a local date-time without offset in `zone`.
/// A local time made ambiguous or skipped by a DST change is an error naming the candidates.
/// Every instant it returns is [`in_bounds`]: anything else is an error naming the bounds.
pub fn parse_instant(input: &str, zone: Tz) -> Result<DateTime<Utc>, TimeError> {
    let s = input.trim();
    let t = parse_unbounded(s, zone)?;
    if in_bounds(t) {
        Ok(t)
    } else {
        Err(TimeError::OutOfBounds(s.to_string()))
    }
}

fn parse_unbounded(s: &str, zone: Tz) -> Result<DateTime<Utc>, TimeError> {
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
    // Far from the bounds, zone arithmetic could overflow: refuse before it.
    if !(1969..=9999).contains(&naive.year()) {
        return Err(TimeError::OutOfBounds(s.to_string()));
    }
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
            // A year is twelve months in both readings (same date, 29 February clamped).
            "y" | "year" | "years" => Period::Months(
                u32::try_from(n.saturating_mul(12)).map_err(|_| PeriodError(s.to_string()))?,
            ),
            _ => return Err(PeriodError(s.to_string())),
        })
    }

    /// `start + self`: absolute for minutes and hours, calendar arithmetic in `zone`
    /// for days, weeks and months (same local time; month ends clamp to the last day).
    /// The result is held within [`min_instant`]..=[`max_instant`] (a 100,000-month
    /// period from 2026 would otherwise leave what RFC 3339 can write).
    pub fn add_to(self, start: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        let days = |n: i64| chrono::Days::new(n.unsigned_abs());
        clamp(match self {
            Period::Minutes(n) => absolute(start, n.saturating_mul(60)),
            Period::Hours(n) => absolute(start, n.saturating_mul(3600)),
            Period::Days(n) => calendar(start, zone, true, |d| d.checked_add_days(days(n))),
            Period::Weeks(n) => calendar(start, zone, true, |d| {
                d.checked_add_days(days(n.saturating_mul(7)))
            }),
            // chrono's Months clamps the 31st to the last day of a shorter month.
            Period::Months(n) => {
                calendar(start, zone, true, |d| d.checked_add_months(Months::new(n)))
            }
        })
    }

    /// `end - self`, the mirror of `add_to` (for reminders before a deadline).
    pub fn sub_from(self, end: DateTime<Utc>, zone: Tz) -> DateTime<Utc> {
        let days = |n: i64| chrono::Days::new(n.unsigned_abs());
        clamp(match self {
            Period::Minutes(n) => absolute(end, n.saturating_mul(-60)),
            Period::Hours(n) => absolute(end, n.saturating_mul(-3600)),
            Period::Days(n) => calendar(end, zone, false, |d| d.checked_sub_days(days(n))),
            Period::Weeks(n) => calendar(end, zone, false, |d| {
                d.checked_sub_days(days(n.saturating_mul(7)))
            }),
            Period::Months(n) => {
                calendar(end, zone, false, |d| d.checked_sub_months(Months::new(n)))
            }
        })
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

/// `start` moved by `secs` seconds; past the bounds, the bound.
fn absolute(start: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    Duration::try_seconds(secs)
        .and_then(|d| start.checked_add_signed(d))
        .unwrap_or(if secs < 0 {
            min_instant()
        } else {
            max_instant()
        })
}

fn calendar(
    start: DateTime<Utc>,
    zone: Tz,
    forward: bool,
    shift: impl Fn(NaiveDateTime) -> Option<NaiveDateTime>,
) -> DateTime<Utc> {
    let local = start.with_timezone(&zone).naive_local();
    match shift(local) {
        Some(target) if (1969..=9999).contains(&target.year()) => resolve_local(zone, target),
        // Beyond the years vigie keeps, the result is the bound: no zone arithmetic there.
        _ if forward => max_instant(),
        _ => min_instant(),
    }
}

/// A local time to an instant: the earlier one when it exists twice, and when it does
/// not exist, the same wall time read with the offset in force before the gap.
pub(crate) fn resolve_local(zone: Tz, naive: NaiveDateTime) -> DateTime<Utc> {
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
    /// Dutch, as written in Belgium (Flemish organisations, the APD/GBA's Dutch forms).
    Nl,
}

impl Lang {
    /// Every language vigie offers: pages, letters and reminders exist in each; drafts in
    /// each language a workflow lists (`languages:`). The one list: add a language here.
    pub const ALL: [Lang; 3] = [Lang::Fr, Lang::En, Lang::Nl];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
            Lang::Nl => "nl",
        }
    }
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.code() == s)
    }
    /// The language's name in itself, for the language switch: "Nederlands".
    pub fn name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::En => "English",
            Lang::Nl => "Nederlands",
        }
    }
    /// "fr, en or nl": the accepted codes, for error messages.
    pub fn choices() -> String {
        let codes: Vec<&str> = Lang::ALL.iter().map(|l| l.code()).collect();
        match codes.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
            _ => codes.join(""),
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
const NL_DAYS: [&str; 7] = [
    "maandag",
    "dinsdag",
    "woensdag",
    "donderdag",
    "vrijdag",
    "zaterdag",
    "zondag",
];
const NL_MONTHS: [&str; 12] = [
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
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
/// "lundi 11 octobre 2021 à 08:00 (UTC+02:00)" / "Monday 11 October 2021 at 08:00 (UTC+02:00)"
/// / "maandag 11 oktober 2021 om 08:00 (UTC+02:00)".
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
        Lang::Nl => format!(
            "{} {} {} {} om {} (UTC{})",
            NL_DAYS[wd],
            l.day(),
            NL_MONTHS[m],
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
        Lang::Nl => format!("{} {} {}", d.day(), NL_MONTHS[m], d.year()),
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
    fn instants_outside_the_bounds_are_refused_naming_them() {
        for s in [
            "0000-01-01T00:00",
            "-262143-01-01T00:00",
            "1969-12-31T23:59:59Z",
            "9999-12-31T23:59",
            "9999-12-30T00:00:01Z",
            "0000-01-01T00:00:00Z",
        ] {
            let e = parse_instant(s, Paris).unwrap_err();
            assert_eq!(e, TimeError::OutOfBounds(s.to_string()));
            assert!(e.to_string().contains(BOUNDS), "{e}");
        }
        assert_eq!(
            parse_instant("1970-01-01T00:00:00Z", Paris),
            Ok(min_instant())
        );
        assert_eq!(
            parse_instant("9999-12-30T00:00:00Z", Paris),
            Ok(max_instant())
        );
    }

    #[test]
    fn now_offsets_are_bounded() {
        assert_eq!(parse_offset("+71h"), Some(Duration::hours(71)));
        assert_eq!(parse_offset("-30m"), Some(Duration::minutes(-30)));
        assert_eq!(parse_offset("+36525d"), Some(Duration::days(36525)));
        for bad in [
            "+36526d",
            "+100000000d",
            "-100000000d",
            "+99999999999999999999h",
            "+1y",
        ] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn long_periods_stop_at_the_bounds() {
        let t = parse_instant("9999-01-01T00:00", Paris).unwrap();
        assert_eq!(Period::Months(100_000).add_to(t, Paris), max_instant());
        assert_eq!(Period::Hours(100_000).add_to(t, Paris), max_instant());
        let t = parse_instant("1970-02-01T00:00", Paris).unwrap();
        assert_eq!(Period::Weeks(100_000).sub_from(t, Paris), min_instant());
        assert_eq!(Period::Minutes(100_000).sub_from(t, Paris), min_instant());
    }

    const ZONES: [Tz; 5] = [
        chrono_tz::Europe::Paris,
        chrono_tz::Europe::Brussels,
        chrono_tz::America::New_York,
        chrono_tz::Pacific::Kiritimati,
        chrono_tz::Pacific::Pago_Pago,
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Every instant `parse_instant` accepts reads back: from the UTC text the log
        /// stores, and from the text shown in the zone. Whatever the year typed.
        #[test]
        fn every_accepted_instant_reads_back(
            year in proptest::prop_oneof![-262_200i32..262_200, 1960i32..2100, 9990i32..10_001],
            month in 1u32..=12, day in 1u32..=31, hour in 0u32..24, minute in 0u32..60,
            form in 0usize..4, zone in 0usize..5,
        ) {
            let zone = ZONES[zone];
            let input = match form {
                0 => format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}"),
                1 => format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:00Z"),
                2 => format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:00+14:00"),
                _ => format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}"),
            };
            if let Ok(t) = parse_instant(&input, zone) {
                proptest::prop_assert!(in_bounds(t));
                let stored = t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
                proptest::prop_assert_eq!(
                    DateTime::parse_from_rfc3339(&stored).map(|d| d.with_timezone(&Utc)),
                    Ok(t)
                );
                proptest::prop_assert_eq!(parse_instant(&rfc3339_in(t, zone), zone), Ok(t));
            }
        }

        /// A due time computed from any accepted instant and any period a workflow may
        /// give stays within the bounds, and so reads back too.
        #[test]
        fn every_due_time_reads_back(
            secs in 0i64..253_402_041_600, n in 1i64..=100_000, unit in 0usize..5,
            zone in 0usize..5,
        ) {
            let zone = ZONES[zone];
            let start = clamp(DateTime::from_timestamp(secs, 0).unwrap());
            let p = match unit {
                0 => Period::Minutes(n),
                1 => Period::Hours(n),
                2 => Period::Days(n),
                3 => Period::Weeks(n),
                _ => Period::Months(n as u32),
            };
            for t in [p.add_to(start, zone), p.sub_from(start, zone)] {
                proptest::prop_assert!(in_bounds(t));
                proptest::prop_assert_eq!(parse_instant(&rfc3339_in(t, zone), zone), Ok(t));
            }
        }
    }

    #[test]
    fn periods_parse() {
        assert_eq!(Period::parse("72h"), Ok(Period::Hours(72)));
        assert_eq!(Period::parse("1 month"), Ok(Period::Months(1)));
        assert_eq!(Period::parse("30 days"), Ok(Period::Days(30)));
        assert_eq!(Period::parse("2w"), Ok(Period::Weeks(2)));
        assert_eq!(Period::parse("1 year"), Ok(Period::Months(12)));
        assert!(Period::parse("72").is_err());
        assert!(Period::parse("0h").is_err());
        assert!(Period::parse("h").is_err());
        assert!(Period::parse("3 fortnights").is_err());
    }

    #[test]
    fn long_dates_in_every_language() {
        let t = parse_instant("2021-10-11T08:00", Paris).unwrap();
        assert_eq!(
            long_in(t, Paris, Lang::Fr),
            "lundi 11 octobre 2021 à 08:00 (UTC+02:00)"
        );
        assert_eq!(
            long_in(t, Paris, Lang::En),
            "Monday 11 October 2021 at 08:00 (UTC+02:00)"
        );
        assert_eq!(
            long_in(t, Paris, Lang::Nl),
            "maandag 11 oktober 2021 om 08:00 (UTC+02:00)"
        );
        let d = chrono::NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!(date_in(d, Lang::Nl), "1 maart 2026");
    }

    #[test]
    fn languages_are_one_list() {
        assert_eq!(Lang::choices(), "fr, en or nl");
        for l in Lang::ALL {
            assert_eq!(Lang::parse(l.code()), Some(l));
        }
        assert_eq!(Lang::parse(" NL "), Some(Lang::Nl));
        assert_eq!(Lang::parse("de"), None);
    }
}
