//! How a clock counts its period: the conservative reading (the default), or Regulation
//! (EEC, Euratom) No 1182/71 art. 3, which a clock opts into with `counting: eu_1182_71`;
//! and the public holidays of the countries a workflow may name (`country: FR | BE`),
//! computed for any year (fixed dates and the Easter-based ones), never typed in a list.
//!
//! Under 1182/71, a period in days, weeks, months or years does not count the day of its
//! start; it ends at the end of its last day (23:59:59.999 local); when that day is a
//! Saturday, Sunday or public holiday, at the end of the next working day; and a period
//! of two days or more holds at least two working days. Hour and minute periods never
//! move.

use crate::time::Period;
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;

/// The countries whose public holidays vigie knows (ISO 3166-1 alpha-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Country {
    Fr,
    Be,
}

impl Country {
    pub const ALL: [Country; 2] = [Country::Fr, Country::Be];

    pub fn code(self) -> &'static str {
        match self {
            Country::Fr => "FR",
            Country::Be => "BE",
        }
    }

    /// The ISO code exactly as written (`FR`, not `fr` or `France`).
    pub fn parse(s: &str) -> Option<Country> {
        Country::ALL.into_iter().find(|c| c.code() == s)
    }

    /// Whether `d` is a public holiday of the whole country. France: the eleven days of
    /// Code du travail L3133-1 (Alsace-Moselle's Good Friday and 26 December are local,
    /// not included). Belgium: the ten legal public holidays.
    pub fn is_public_holiday(self, d: NaiveDate) -> bool {
        let easter = easter_sunday(d.year());
        let after_easter = (d - easter).num_days();
        // Easter Monday, Ascension, Whit Monday: in both countries.
        if matches!(after_easter, 1 | 39 | 50) {
            return true;
        }
        let md = (d.month(), d.day());
        let common = [(1, 1), (5, 1), (8, 15), (11, 1), (11, 11), (12, 25)];
        if common.contains(&md) {
            return true;
        }
        match self {
            Country::Fr => matches!(md, (5, 8) | (7, 14)),
            Country::Be => md == (7, 21),
        }
    }

    pub fn is_working_day(self, d: NaiveDate) -> bool {
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && !self.is_public_holiday(d)
    }
}

/// Easter Sunday of the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("Easter is a real date")
}

/// How a clock counts its period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Counting {
    /// Same local time N days or months later (month ends clamp), hours absolute; never
    /// moved to a working day. The shorter reading, so the safer one.
    #[default]
    Conservative,
    /// Regulation 1182/71 art. 3, with the workflow's country's public holidays.
    Eu1182_71,
}

impl Counting {
    pub fn parse(s: &str) -> Option<Counting> {
        match s {
            "conservative" => Some(Counting::Conservative),
            "eu_1182_71" => Some(Counting::Eu1182_71),
            _ => None,
        }
    }
}

/// The due time of `period` started at `start`, counted as `counting` says. `country`
/// is required by the compiler for `Eu1182_71`; without one, no day is a holiday.
pub fn due(
    period: Period,
    start: DateTime<Utc>,
    zone: Tz,
    counting: Counting,
    country: Option<Country>,
) -> DateTime<Utc> {
    if counting == Counting::Conservative {
        return period.add_to(start, zone);
    }
    let first_day = start.with_timezone(&zone).date_naive();
    // The day of the start is not counted: the last day is the start day + N (days,
    // weeks), or the same date N months later, clamped to the month's end.
    let last = match period {
        Period::Minutes(_) | Period::Hours(_) => return period.add_to(start, zone),
        Period::Days(n) => first_day.checked_add_days(chrono::Days::new(n.unsigned_abs())),
        Period::Weeks(n) => {
            first_day.checked_add_days(chrono::Days::new(n.unsigned_abs().saturating_mul(7)))
        }
        Period::Months(n) => first_day.checked_add_months(Months::new(n)),
    };
    let Some(mut last) = last.filter(|d| d.year() <= 9998) else {
        return period.add_to(start, zone);
    };
    let working = |d: NaiveDate| match country {
        Some(c) => c.is_working_day(d),
        None => !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
    };
    let next_day = |d: NaiveDate| d.succ_opt().expect("within year 9999");
    // Art. 3(4): a last day that is not a working day moves to the next working day.
    while !working(last) {
        last = next_day(last);
    }
    // Art. 3(5): a period of two days or more holds at least two working days.
    let two_days_or_more = !matches!(period, Period::Days(1));
    if two_days_or_more {
        let mut count = first_day
            .iter_days()
            .skip(1)
            .take_while(|d| *d <= last)
            .filter(|d| working(*d))
            .take(2) // stops early: a long period never walks all its days
            .count();
        while count < 2 {
            last = next_day(last);
            if working(last) {
                count += 1;
            }
        }
    }
    end_of_day(last, zone)
}

/// The last instant of local day `d` (23:59:59.999, whatever DST did that day).
fn end_of_day(d: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let next_midnight = d
        .succ_opt()
        .expect("within year 9999")
        .and_hms_opt(0, 0, 0)
        .expect("midnight");
    crate::time::resolve_local(zone, next_midnight) - Duration::milliseconds(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{parse_instant, rfc3339_in};
    use chrono_tz::Europe::{Brussels, Paris};

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    /// The due time, written in the zone to the millisecond.
    fn due_of(p: &str, start: &str, zone: Tz, country: Country) -> String {
        let start = parse_instant(start, zone).unwrap();
        let d = due(
            Period::parse(p).unwrap(),
            start,
            zone,
            Counting::Eu1182_71,
            Some(country),
        );
        d.with_timezone(&zone)
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
    }

    #[test]
    fn easter_sundays_are_right() {
        for (y, d) in [
            (2024, "2024-03-31"),
            (2025, "2025-04-20"),
            (2026, "2026-04-05"),
            (2027, "2027-03-28"),
            (2028, "2028-04-16"),
            (2038, "2038-04-25"), // the latest possible date
            (2285, "2285-03-22"), // the earliest possible date
            (2000, "2000-04-23"),
            (1818, "1818-03-22"),
        ] {
            assert_eq!(easter_sunday(y), date(d), "{y}");
        }
    }

    #[test]
    fn public_holidays_of_france_and_belgium() {
        let fr = Country::Fr;
        let be = Country::Be;
        // Easter-based, 2026: Easter 5 April.
        for d in ["2026-04-06", "2026-05-14", "2026-05-25"] {
            assert!(fr.is_public_holiday(date(d)), "FR {d}");
            assert!(be.is_public_holiday(date(d)), "BE {d}");
        }
        assert!(!fr.is_public_holiday(date("2026-04-03")), "Good Friday");
        // National days: each its own.
        assert!(fr.is_public_holiday(date("2026-07-14")));
        assert!(!be.is_public_holiday(date("2026-07-14")));
        assert!(be.is_public_holiday(date("2026-07-21")));
        assert!(!fr.is_public_holiday(date("2026-07-21")));
        assert!(fr.is_public_holiday(date("2026-05-08")));
        assert!(!be.is_public_holiday(date("2026-05-08")));
        for d in [
            "2026-01-01",
            "2026-05-01",
            "2026-08-15",
            "2026-11-01",
            "2026-11-11",
            "2026-12-25",
        ] {
            assert!(fr.is_public_holiday(date(d)), "FR {d}");
            assert!(be.is_public_holiday(date(d)), "BE {d}");
        }
        assert!(!be.is_public_holiday(date("2026-12-26")));
        assert_eq!(Country::parse("BE"), Some(Country::Be));
        assert_eq!(Country::parse("be"), None);
    }

    #[test]
    fn conservative_counting_is_the_plain_calendar() {
        let start = parse_instant("2026-11-20T09:00", Paris).unwrap();
        let p = Period::Days(21);
        assert_eq!(
            due(p, start, Paris, Counting::Conservative, Some(Country::Fr)),
            p.add_to(start, Paris)
        );
    }

    #[test]
    fn days_do_not_count_the_start_day_and_end_at_midnight() {
        // Tuesday 10 November 2026 at 15:00 + 3 days: Wed, Thu (11 Nov, a holiday, still
        // counted), Fri 13: the end of Friday.
        assert_eq!(
            due_of("3d", "2026-11-10T15:00", Paris, Country::Fr),
            "2026-11-13T23:59:59.999+01:00"
        );
    }

    #[test]
    fn a_last_day_on_11_november_moves_to_the_next_working_day() {
        // Monday 9 November + 2 days = Wednesday 11 November (Armistice): Thursday 12.
        assert_eq!(
            due_of("2d", "2026-11-09T10:00", Paris, Country::Fr),
            "2026-11-12T23:59:59.999+01:00"
        );
        assert_eq!(
            due_of("2d", "2026-11-09T10:00", Brussels, Country::Be),
            "2026-11-12T23:59:59.999+01:00"
        );
    }

    #[test]
    fn a_final_report_landing_on_a_sunday_moves_to_monday() {
        // One month from Saturday 17 October 2026 is Tuesday 17 November: no move.
        assert_eq!(
            due_of("1 month", "2026-10-17T10:00", Brussels, Country::Be),
            "2026-11-17T23:59:59.999+01:00"
        );
        // One month from Thursday 22 October 2026 is Sunday 22 November: the end of
        // Monday 23 November.
        assert_eq!(
            due_of("1 month", "2026-10-22T16:00", Brussels, Country::Be),
            "2026-11-23T23:59:59.999+01:00"
        );
    }

    #[test]
    fn month_ends_clamp_to_the_last_day_then_move() {
        // 31 January 2026 + 1 month: no 31 February, so 28 February 2026, a Saturday:
        // Monday 2 March.
        assert_eq!(
            due_of("1 month", "2026-01-31T12:00", Paris, Country::Fr),
            "2026-03-02T23:59:59.999+01:00"
        );
        // 31 March 2026 + 1 month: 30 April 2026, a Thursday.
        assert_eq!(
            due_of("1 month", "2026-03-31T12:00", Paris, Country::Fr),
            "2026-04-30T23:59:59.999+02:00"
        );
    }

    #[test]
    fn a_leap_year_ends_on_29_february() {
        // 31 January 2028 + 1 month = 29 February 2028, a Tuesday.
        assert_eq!(
            due_of("1 month", "2028-01-31T08:00", Paris, Country::Fr),
            "2028-02-29T23:59:59.999+01:00"
        );
        // 29 February 2028 + 12 months = 28 February 2029, a Wednesday.
        assert_eq!(
            due_of("1 year", "2028-02-29T08:00", Paris, Country::Fr),
            "2029-02-28T23:59:59.999+01:00"
        );
    }

    #[test]
    fn easter_monday_and_whit_monday_are_skipped() {
        // Thursday 2 April 2026 + 3 days = Sunday 5 April (Easter): Monday 6 is Easter
        // Monday, so the end of Tuesday 7 April.
        assert_eq!(
            due_of("3d", "2026-04-02T09:00", Paris, Country::Fr),
            "2026-04-07T23:59:59.999+02:00"
        );
        // Friday 22 May 2026 + 3 days = Monday 25 May, Whit Monday: Tuesday 26 May
        // (art. 3(4)); Saturday to Tuesday then hold one working day only, so art. 3(5)
        // takes the period to the end of Wednesday 27.
        assert_eq!(
            due_of("3d", "2026-05-22T09:00", Brussels, Country::Be),
            "2026-05-27T23:59:59.999+02:00"
        );
        // Thursday 21 May + 4 days = Monday 25, Whit Monday: Tuesday 26, and Friday 22
        // and Tuesday 26 are two working days.
        assert_eq!(
            due_of("4d", "2026-05-21T09:00", Paris, Country::Fr),
            "2026-05-26T23:59:59.999+02:00"
        );
    }

    #[test]
    fn national_days_differ_between_france_and_belgium() {
        // Saturday 11 July 2026 + 3 days = Tuesday 14 July: a holiday in France only.
        assert_eq!(
            due_of("3d", "2026-07-11T09:00", Paris, Country::Fr),
            "2026-07-15T23:59:59.999+02:00"
        );
        assert_eq!(
            due_of("3d", "2026-07-11T09:00", Brussels, Country::Be),
            "2026-07-14T23:59:59.999+02:00"
        );
        // Saturday 18 July 2026 + 3 days = Tuesday 21 July: a holiday in Belgium only.
        assert_eq!(
            due_of("3d", "2026-07-18T09:00", Brussels, Country::Be),
            "2026-07-22T23:59:59.999+02:00"
        );
        assert_eq!(
            due_of("3d", "2026-07-18T09:00", Paris, Country::Fr),
            "2026-07-21T23:59:59.999+02:00"
        );
    }

    #[test]
    fn a_period_of_two_days_holds_two_working_days() {
        // Friday 24 December 2027 + 2 days = Sunday 26: moved to Monday 27 (art. 3(4)),
        // which is the only working day of 25..27 (25 December is a holiday): the
        // period runs to the end of Tuesday 28 (art. 3(5)).
        assert_eq!(
            due_of("2d", "2027-12-24T09:00", Paris, Country::Fr),
            "2027-12-28T23:59:59.999+01:00"
        );
        // One day is not two: Friday + 1 day = Saturday, moved to Monday, and no more.
        assert_eq!(
            due_of("1d", "2027-12-24T09:00", Paris, Country::Fr),
            "2027-12-27T23:59:59.999+01:00"
        );
    }

    #[test]
    fn dst_both_ways_end_at_local_midnight() {
        // Spring forward on Sunday 29 March 2026: Thursday 26 + 3 days = Sunday 29,
        // moved to Monday 30, whose end is at +02:00.
        assert_eq!(
            due_of("3d", "2026-03-26T10:00", Paris, Country::Fr),
            "2026-03-30T23:59:59.999+02:00"
        );
        // Fall back on Sunday 25 October 2026: Friday 23 at 10:00 (+02:00) + 4 days =
        // Tuesday 27, at +01:00.
        assert_eq!(
            due_of("4d", "2026-10-23T10:00", Brussels, Country::Be),
            "2026-10-27T23:59:59.999+01:00"
        );
        // A start in the last hour of a day belongs to that day, in local time.
        assert_eq!(
            due_of("1d", "2026-10-24T23:30", Paris, Country::Fr),
            "2026-10-26T23:59:59.999+01:00"
        );
    }

    #[test]
    fn hours_never_move() {
        // 72 h from Thursday 9 July 2026 at 12:00 end on Sunday 12 July at 12:00.
        let start = parse_instant("2026-07-09T12:00", Paris).unwrap();
        let d = due(
            Period::Hours(72),
            start,
            Paris,
            Counting::Eu1182_71,
            Some(Country::Fr),
        );
        assert_eq!(rfc3339_in(d, Paris), "2026-07-12T12:00:00+02:00");
        // Across the fall-back change: 72 real hours.
        let start = parse_instant("2026-10-23T10:00", Paris).unwrap();
        let d = due(
            Period::Hours(72),
            start,
            Paris,
            Counting::Eu1182_71,
            Some(Country::Fr),
        );
        assert_eq!(rfc3339_in(d, Paris), "2026-10-26T09:00:00+01:00");
    }
}
