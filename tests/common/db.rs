//! Which backend a test runs against, and backend-neutral access to its database.
//!
//! A suite lists its tests once in [`both_backends!`](crate::both_backends): each runs
//! in `sqlite::NAME` and `postgres::NAME`, with the backend in a thread-local that
//! [`Vigie::new`](super::Vigie::new) reads (a fresh SQLite file, or a fresh PostgreSQL
//! database from [`super::pg::url`]). Tests that are about SQLite itself (its file,
//! its triggers) keep a plain `#[test]` and use [`Vigie::db`](super::Vigie::db).

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
/// still formats their bodies. Attributes written before a name (`#[ignore]`) go to both.
///
/// ```ignore
/// both_backends! { opens_a_case, #[ignore] a_slow_one }
/// fn opens_a_case() { let v = Vigie::new(); ... }
/// ```
#[macro_export]
macro_rules! both_backends {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {
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
                #[test]
                // The one switch: delete this line once main has the PostgreSQL backend.
                #[ignore = "PostgreSQL backend not merged yet"]
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

    /// The rows of one query, each cell as text (`NULL` for a null). No parameters:
    /// tests write their literals into the SQL, which both dialects then read alike.
    pub fn query(&self, sql: &str) -> Result<Vec<Vec<String>>, String> {
        match self {
            Target::Sqlite(path) => {
                let conn = sqlite(path);
                let mut stmt = conn.prepare(sql).map_err(|e| e.to_string())?;
                let n = stmt.column_count();
                let mut q = stmt.query([]).map_err(|e| e.to_string())?;
                let mut rows = Vec::new();
                while let Some(row) = q.next().map_err(|e| e.to_string())? {
                    let mut cells = Vec::with_capacity(n);
                    for i in 0..n {
                        cells.push(sqlite_text(row.get_ref(i).map_err(|e| e.to_string())?));
                    }
                    rows.push(cells);
                }
                Ok(rows)
            }
            Target::Postgres(url) => {
                // The simple query protocol gives every value in PostgreSQL's text form,
                // whatever its type: no type mapping to keep here.
                let mut rows = Vec::new();
                for m in postgres(url).simple_query(sql).map_err(pg_error)? {
                    if let postgres::SimpleQueryMessage::Row(row) = m {
                        rows.push(
                            (0..row.len())
                                .map(|i| row.get(i).unwrap_or("NULL").to_string())
                                .collect(),
                        );
                    }
                }
                Ok(rows)
            }
        }
    }

    /// Runs one statement; the number of rows it changed, or the database's refusal.
    pub fn execute(&self, sql: &str) -> Result<u64, String> {
        match self {
            Target::Sqlite(path) => sqlite(path)
                .execute(sql, [])
                .map(|n| n as u64)
                .map_err(|e| e.to_string()),
            Target::Postgres(url) => postgres(url).execute(sql, &[]).map_err(pg_error),
        }
    }

    /// Runs several statements separated by `;`.
    pub fn batch(&self, sql: &str) -> Result<(), String> {
        match self {
            Target::Sqlite(path) => sqlite(path).execute_batch(sql).map_err(|e| e.to_string()),
            Target::Postgres(url) => postgres(url).batch_execute(sql).map_err(pg_error),
        }
    }
}

fn sqlite(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).expect("the SQLite database opens")
}

fn sqlite_text(v: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => "NULL".into(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => f.to_string(),
        ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
        ValueRef::Blob(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

fn postgres(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("the test database answers: {e}"))
}

/// The server's own message ("... violates ..."), not only "db error".
fn pg_error(e: postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}
