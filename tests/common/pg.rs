//! Placeholder until the PostgreSQL backend lands on main with the real helper: a
//! throwaway cluster per test binary (or `VIGIE_TEST_POSTGRES`), a fresh empty database
//! per call.

/// The URL of a fresh, empty PostgreSQL database.
pub fn url() -> String {
    panic!("PostgreSQL backend not merged yet")
}
