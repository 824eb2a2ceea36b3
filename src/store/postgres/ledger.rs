//! The ledger of bulk notification on PostgreSQL: campaigns and one row per person.

use super::outbox::advance_identity;
use super::{Postgres, db_err};
use crate::store::backend::{Campaign, Ledger, LedgerRow, Result};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row};
use std::collections::HashMap;

const CAMPAIGN_COLS: &str =
    "id, org, case_id, channel, recipients_sha256, template_sha256, created_at";

fn campaign(r: &Row) -> Campaign {
    Campaign {
        id: r.get(0),
        org: r.get(1),
        case_id: r.get(2),
        channel: r.get(3),
        recipients_sha256: r.get(4),
        template_sha256: r.get(5),
        created_at: r.get(6),
    }
}

fn ledger_row(r: &Row) -> LedgerRow {
    LedgerRow {
        campaign: r.get(0),
        person: r.get(1),
        status: r.get(2),
        message_id: r.get(3),
        at: r.get(4),
        error: r.get(5),
    }
}

fn upsert_ledger(c: &mut impl GenericClient, rows: &[LedgerRow]) -> Result<()> {
    for l in rows {
        c.execute(
            "INSERT INTO ledger (campaign, person, status, message_id, at, error)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (campaign, person) DO UPDATE SET status = excluded.status,
             message_id = excluded.message_id, at = excluded.at, error = excluded.error",
            &[
                &l.campaign,
                &l.person,
                &l.status,
                &l.message_id,
                &l.at,
                &l.error,
            ],
        )
        .map_err(db_err)?;
    }
    Ok(())
}

fn insert_campaign(c: &mut impl GenericClient, k: &Campaign, with_id: bool) -> Result<i64> {
    let r = if with_id {
        c.query_one(
            &format!("INSERT INTO campaigns ({CAMPAIGN_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"),
            &[&k.id, &k.org, &k.case_id, &k.channel, &k.recipients_sha256, &k.template_sha256, &k.created_at],
        )
    } else {
        c.query_one(
            "INSERT INTO campaigns (org, case_id, channel, recipients_sha256, template_sha256, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&k.org, &k.case_id, &k.channel, &k.recipients_sha256, &k.template_sha256, &k.created_at],
        )
    }
    .map_err(db_err)?;
    Ok(r.get(0))
}

/// Streams the rows of a query to `f` without holding them all (a ledger may have
/// millions).
fn each_row(
    c: &mut Client,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    f: &mut dyn FnMut(&Row) -> Result<()>,
) -> Result<()> {
    let mut it = c.query_raw(sql, params.iter().copied()).map_err(db_err)?;
    while let Some(row) = it.next().map_err(db_err)? {
        f(&row)?;
    }
    Ok(())
}

impl Ledger for Postgres {
    fn last_campaign(
        &mut self,
        org: &str,
        case_id: &str,
        channel: &str,
        same: Option<(&str, &str)>,
    ) -> Result<Option<Campaign>> {
        let (recipients, template) = match same {
            Some((r, t)) => (Some(r), Some(t)),
            None => (None, None),
        };
        Ok(self
            .client
            .query_opt(
                &format!(
                    "SELECT {CAMPAIGN_COLS} FROM campaigns
                     WHERE org = $1 AND case_id = $2 AND channel = $3
                       AND ($4::TEXT IS NULL OR recipients_sha256 = $4)
                       AND ($5::TEXT IS NULL OR template_sha256 = $5)
                     ORDER BY id DESC LIMIT 1"
                ),
                &[&org, &case_id, &channel, &recipients, &template],
            )
            .map_err(db_err)?
            .as_ref()
            .map(campaign))
    }

    fn create_campaign(&mut self, c: &Campaign) -> Result<i64> {
        insert_campaign(&mut *self.client, c, false)
    }

    fn sent_people(
        &mut self,
        org: &str,
        case_id: &str,
        campaign: i64,
        any_campaign: bool,
        f: &mut dyn FnMut(&str),
    ) -> Result<()> {
        each_row(
            &mut self.client,
            "SELECT l.person FROM ledger l JOIN campaigns c ON c.id = l.campaign
             WHERE c.org = $1 AND c.case_id = $2 AND l.status = 'sent' AND (l.campaign = $3 OR $4)",
            &[&org, &case_id, &campaign, &any_campaign],
            &mut |r| {
                f(r.get(0));
                Ok(())
            },
        )
    }

    fn refused_people(&mut self, campaign: i64, f: &mut dyn FnMut(&str, &str)) -> Result<()> {
        each_row(
            &mut self.client,
            "SELECT person, COALESCE(error, '') FROM ledger WHERE campaign = $1 AND status = 'refused'",
            &[&campaign],
            &mut |r| {
                f(r.get(0), r.get(1));
                Ok(())
            },
        )
    }

    fn write_ledger(&mut self, rows: &[LedgerRow]) -> Result<()> {
        let mut tx = self.client.transaction().map_err(db_err)?;
        upsert_ledger(&mut tx, rows)?;
        tx.commit().map_err(db_err)
    }

    fn count_sent(&mut self, campaign: i64) -> Result<i64> {
        let r = self
            .query_one_c(
                "SELECT COUNT(*) FROM ledger WHERE campaign = $1 AND status = 'sent'",
                &[&campaign],
            )
            .map_err(db_err)?;
        Ok(r.get(0))
    }

    fn ledger_figures(&mut self, org: &str) -> Result<HashMap<String, (u64, u64, u64)>> {
        // Each person once per case, by their best outcome across its campaigns.
        let rows = self.query_c("SELECT case_id, best, COUNT(*) FROM (
                    SELECT c.case_id AS case_id,
                           MIN(CASE l.status WHEN 'sent' THEN 0 WHEN 'refused' THEN 1 ELSE 2 END) AS best
                    FROM campaigns c JOIN ledger l ON l.campaign = c.id
                    WHERE c.org = $1
                    GROUP BY c.case_id, l.person) per_person
                 GROUP BY case_id, best",
                &[&org],
            )
            .map_err(db_err)?;
        let mut out: HashMap<String, (u64, u64, u64)> = HashMap::new();
        for r in rows {
            let best: i32 = r.get(1);
            let n: i64 = r.get(2);
            let f = out.entry(r.get(0)).or_default();
            match best {
                0 => f.0 = n as u64,
                1 => f.1 = n as u64,
                _ => f.2 = n as u64,
            }
        }
        Ok(out)
    }

    fn campaigns(&mut self) -> Result<Vec<Campaign>> {
        let rows = self
            .client
            .query(
                &format!("SELECT {CAMPAIGN_COLS} FROM campaigns ORDER BY id"),
                &[],
            )
            .map_err(db_err)?;
        Ok(rows.iter().map(campaign).collect())
    }

    fn ledger_rows(&mut self, f: &mut dyn FnMut(LedgerRow) -> Result<()>) -> Result<()> {
        each_row(
            &mut self.client,
            "SELECT campaign, person, status, message_id, at, error FROM ledger ORDER BY campaign, person",
            &[],
            &mut |r| f(ledger_row(r)),
        )
    }
}

pub(super) fn load_campaigns(c: &mut Client, rows: &[Campaign]) -> Result<()> {
    let mut tx = c.transaction().map_err(db_err)?;
    for k in rows {
        insert_campaign(&mut tx, k, true)?;
    }
    advance_identity(&mut tx, "campaigns")?;
    tx.commit().map_err(db_err)
}

pub(super) fn load_ledger(c: &mut Client, rows: &[LedgerRow]) -> Result<()> {
    let mut tx = c.transaction().map_err(db_err)?;
    upsert_ledger(&mut tx, rows)?;
    tx.commit().map_err(db_err)
}
