//! The organisation's access log as one view (issue 21 part 6): every view and download
//! of a draft, an issued document or the register, filtered by case, person, action and
//! dates, and as CSV. Its DPO's only (the pages and the API check the role); another
//! organisation's entries are never read (the store filters by organisation).

use super::{App, AppError};
use crate::store::Store;
use crate::store::backend::AccessRow;
use chrono::NaiveDate;
use chrono_tz::Tz;

/// What to keep; every field empty keeps everything.
#[derive(Debug, Clone, Default)]
pub struct AccessFilter {
    /// A case id, exactly; `-` for what belongs to no case (the register).
    pub case: Option<String>,
    /// Part of the person's `name <email>`, any case.
    pub actor: Option<String>,
    /// `view` or `download`.
    pub action: Option<String>,
    /// From this day, in the organisation's zone.
    pub from: Option<NaiveDate>,
    /// To this day included, in the organisation's zone.
    pub to: Option<NaiveDate>,
}

impl AccessFilter {
    fn keeps(&self, a: &AccessRow, zone: Tz) -> bool {
        let day = a.at.with_timezone(&zone).date_naive();
        self.case.as_deref().is_none_or(|c| match c {
            "-" => a.case_id.is_none(),
            c => a.case_id.as_deref() == Some(c),
        }) && self
            .actor
            .as_deref()
            .is_none_or(|who| a.actor.to_lowercase().contains(&who.trim().to_lowercase()))
            && self.action.as_deref().is_none_or(|x| a.action == x)
            && self.from.is_none_or(|d| day >= d)
            && self.to.is_none_or(|d| day <= d)
    }
}

impl App {
    /// The organisation's access log, newest first, as `filter` keeps it.
    pub fn access_view(
        &self,
        store: &mut Store,
        org: &str,
        filter: &AccessFilter,
    ) -> Result<(Vec<AccessRow>, Tz), AppError> {
        let zone = self.zone_of_org(store, org);
        let mut rows: Vec<AccessRow> = self
            .access_log(store, org, None)?
            .into_iter()
            .filter(|a| filter.keeps(a, zone))
            .collect();
        rows.sort_by_key(|a| std::cmp::Reverse((a.at, a.id)));
        Ok((rows, zone))
    }
}

/// The access log as CSV, as the register's (RFC 4180, UTF-8 with a BOM, no cell a
/// spreadsheet would run as a formula): one header line, then one line an entry, times
/// in RFC 3339 in `zone`.
pub fn access_csv(rows: &[AccessRow], zone: Tz) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record([
        "at", "case", "actor", "action", "object", "detail", "address", "via",
    ])
    .expect("write to memory");
    for a in rows {
        let at = crate::time::rfc3339_in(a.at, zone);
        let cells = [
            at.as_str(),
            a.case_id.as_deref().unwrap_or(""),
            &a.actor,
            &a.action,
            &a.object,
            &a.detail,
            &a.address,
            &a.via,
        ];
        w.write_record(cells.iter().map(|c| crate::register::csv_cell(c)))
            .expect("write to memory");
    }
    let bytes = w.into_inner().expect("flush to memory");
    let mut out = String::from("\u{feff}");
    out.push_str(&String::from_utf8(bytes).expect("UTF-8 in, UTF-8 out"));
    out
}

/// A day typed in a filter (`2026-12-07`), or None when blank; the error names the field.
pub fn parse_day(field: &str, text: Option<&str>) -> Result<Option<NaiveDate>, AppError> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| AppError::Field {
                field: if field == "from" { "from" } else { "to" },
                message: format!(
                    "{field}: {} is not a date (YYYY-MM-DD)",
                    crate::util::quote(t)
                ),
            }),
    }
}
