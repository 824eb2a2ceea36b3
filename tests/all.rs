//! The end-to-end suites, as one test binary: each `tests/NAME.rs` is a module here, and
//! `tests/common/` the builder they share. One binary rather than one per file: the
//! shared code is compiled and linked once (31 release links of the whole dependency
//! tree were a third of CI's build), one throwaway PostgreSQL cluster and one
//! chromedriver serve every suite, and a long suite's tests run beside the others
//! instead of after them. Run one suite with `cargo test --release --test all NAME::`.
//!
//! A new suite is a new `tests/NAME.rs` (starting with `use crate::common;`) and a
//! `mod NAME;` line below.

mod common;

mod assess;
mod audit;
mod authref;
mod browser;
mod browser_setup;
mod calendar;
mod cases;
mod copy;
mod cra;
mod dpo_day;
mod drafts;
mod dutch;
mod edpb;
mod edpb_fields;
mod first_start;
mod fuzz;
mod hostile;
mod house;
mod inspection;
mod instances;
mod intake;
mod intake_browser;
mod intake_check;
mod issued;
mod journey;
mod law;
mod legal_drafts;
mod memberships;
mod notify;
mod oidc;
mod organisations;
mod pages_cache;
mod pages_words;
mod pdf;
mod proof;
mod readme;
mod regimes;
mod seeds;
mod serve;
mod sign_in;
mod store_contract;
mod users;
mod web;
mod whatif;
mod workflow_check;
