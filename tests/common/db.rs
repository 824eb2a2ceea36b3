//! Which backend a test runs against, and backend-neutral access to its database.
//!
//! A suite lists its tests once in [`both_backends!`](crate::both_backends): each runs
//! in `sqlite::NAME` and `postgres::NAME`, with the backend in a thread-local that
//! [`Vigie::new`](super::Vigie::new) reads (a fresh SQLite file, or a fresh PostgreSQL
//! database from [`super::pg::url`]). Tests that are about SQLite itself (its file,
//! its triggers) keep a plain `#[test]` and use [`Vigie::db`](super::Vigie::db).

use super::SqlDone;
use serde_json::Value;
use std::cell::Cell;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

thread_local! {
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Sqlite) };
}

/// The backend of the test running on this thread (SQLite outside [`with_backend`]).
pub fn backend() -> Backend {
    BACKEND.with(Cell::get)
}

/// Runs `f` with `b` as this thread's backend (restored afterwards, even on a panic).
pub fn with_backend<R>(b: Backend, f: impl FnOnce() -> R) -> R {
    struct Restore(Backend);
    impl Drop for Restore {
        fn drop(&mut self) {
            BACKEND.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(BACKEND.with(|c| c.replace(b)));
    f()
}

/// Each test named runs twice, as `sqlite::NAME` and `postgres::NAME`. The functions
/// themselves are plain `fn NAME()` (no `#[test]`) beside the list, so that rustfmt
/// still formats their bodies. Attributes written before a name (`#[ignore]`) go to both;
/// those after `on_postgres` only to the PostgreSQL run (a known backend bug, say).
///
/// ```ignore
/// both_backends! { opens_a_case, #[ignore] a_slow_one, x on_postgres #[ignore = "why"] }
/// fn opens_a_case() { let v = Vigie::new(); ... }
/// ```
#[macro_export]
macro_rules! both_backends {
    ($($(#[$m:meta])* $name:ident $(on_postgres #[$pm:meta])*),* $(,)?) => {
        mod sqlite {
            $(
                $(#[$m])*
                #[test]
                fn $name() {
                    $crate::common::db::with_backend(
                        $crate::common::db::Backend::Sqlite,
                        super::$name,
                    )
                }
            )*
        }
        mod postgres {
            $(
                $(#[$m])*
                $(#[$pm])*
                #[test]
                fn $name() {
                    $crate::common::db::with_backend(
                        $crate::common::db::Backend::Postgres,
                        super::$name,
                    )
                }
            )*
        }
    };
}

/// Where a test's database is: what `--db` gets.
#[derive(Debug)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    pub fn backend(&self) -> Backend {
        match self {
            Target::Sqlite(_) => Backend::Sqlite,
            Target::Postgres(_) => Backend::Postgres,
        }
    }
}

/// [`super::Vigie::try_sql`] on PostgreSQL: `?1`/`?` placeholders become `$1`, each
/// parameter takes the type the server infers for it, each cell comes back as JSON.
pub fn pg_sql(url: &str, sql: &str, params: &[Value]) -> Result<SqlDone, String> {
    use postgres::types::{ToSql, Type};
    let mut client = connect(url);
    let stmt = client.prepare(&placeholders(sql)).map_err(pg_error)?;
    let mut owned: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    for (v, ty) in params.iter().zip(stmt.params()) {
        let p: Box<dyn ToSql + Sync> = if v.is_null() {
            Box::new(None::<String>)
        } else if *ty == Type::INT8 {
            Box::new(v.as_i64().expect("an integer parameter"))
        } else if *ty == Type::INT4 {
            Box::new(v.as_i64().expect("an integer parameter") as i32)
        } else if *ty == Type::BOOL {
            Box::new(v.as_bool().expect("a boolean parameter"))
        } else if let Some(s) = v.as_str() {
            Box::new(s.to_string())
        } else {
            Box::new(v.to_string())
        };
        owned.push(p);
    }
    let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
    if stmt.columns().is_empty() {
        let changes = client.execute(&stmt, &refs).map_err(pg_error)?;
        return Ok(SqlDone {
            rows: Vec::new(),
            changes: changes as i64,
        });
    }
    let rows = client.query(&stmt, &refs).map_err(pg_error)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut cells = Vec::with_capacity(row.len());
        for (i, col) in row.columns().iter().enumerate() {
            let ty = col.type_();
            let cell = if *ty == Type::INT8 {
                row.get::<_, Option<i64>>(i).map(Value::from)
            } else if *ty == Type::INT4 {
                row.get::<_, Option<i32>>(i).map(Value::from)
            } else if *ty == Type::INT2 {
                row.get::<_, Option<i16>>(i).map(Value::from)
            } else if *ty == Type::BOOL {
                row.get::<_, Option<bool>>(i).map(Value::from)
            } else if *ty == Type::FLOAT8 {
                row.get::<_, Option<f64>>(i).map(Value::from)
            } else if *ty == Type::TIMESTAMPTZ {
                row.try_get::<_, Option<chrono::DateTime<chrono::Utc>>>(i)
                    .map_err(pg_error)?
                    .map(|t| {
                        t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                            .into()
                    })
            } else {
                row.try_get::<_, Option<String>>(i)
                    .map_err(pg_error)?
                    .map(Value::from)
            };
            cells.push(cell.unwrap_or(Value::Null));
        }
        out.push(cells);
    }
    Ok(SqlDone {
        rows: out,
        changes: 0,
    })
}

/// [`super::Vigie::sql_script`] on PostgreSQL.
pub fn pg_script(url: &str, sql: &str) -> Result<(), String> {
    connect(url).batch_execute(sql).map_err(pg_error)
}

/// SQLite's `?1` and `?` placeholders as PostgreSQL's `$1` (outside quoted text).
fn placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let (mut quoted, mut n) = (false, 0);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c != '?' || quoted {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        if digits.is_empty() {
            n += 1;
            digits = n.to_string();
        }
        out.push('$');
        out.push_str(&digits);
    }
    out
}

fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("the test database answers: {e}"))
}

/// The server's own message ("... is append-only"), not only "db error".
fn pg_error(e: postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}
