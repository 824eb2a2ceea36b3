//! `vigie serve`: the web page and API beside the reminder dispatcher.

use super::{CliError, Ctx};
use clap::Args;

#[derive(Args)]
pub struct ServeArgs {
    /// Address of the web page and API (default: http.listen in the config, else
    /// 127.0.0.1:8080; port 0 picks a free one). `none` serves no HTTP.
    #[arg(long)]
    listen: Option<String>,
    /// Timers claimed per round.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Seconds a claim is held before another dispatcher may take it.
    #[arg(long, default_value_t = 120)]
    lease_secs: i64,
    /// Longest sleep, in seconds, without looking at the database.
    #[arg(long, default_value_t = 60)]
    idle_check_secs: u64,
}

pub(super) fn run(ctx: &Ctx, a: ServeArgs) -> Result<(), CliError> {
    // The identity provider's client secret is read now, so that a missing one stops
    // the start, not a sign-in (issue 25 part 2).
    if let Some(oidc) = &ctx.config.auth.oidc {
        oidc.secret()
            .map_err(|b| CliError::input(format!("{}: {}", b.field, b.message)))?;
    }
    // The checkpoints' signing key and the TSA's CAs are read now too (issue 26).
    let audit = &ctx.config.audit;
    if let Some(p) = &audit.signing_key {
        crate::app::proof::load_signer(p)
            .map_err(|e| CliError::input(format!("audit.signing_key: {e}")))?;
    }
    if let Some(ca) = audit.tsa.as_ref().and_then(|t| t.ca_file.as_ref()) {
        crate::proof::read_cas(ca)
            .map_err(|e| CliError::input(format!("audit.tsa.ca_file: {e}")))?;
    }
    let opts = crate::serve::ServeOptions {
        db: ctx.db.clone(),
        config: ctx.config.clone(),
        batch: a.batch.max(1),
        lease: chrono::Duration::seconds(a.lease_secs.max(1)),
        idle_check: std::time::Duration::from_secs(a.idle_check_secs.max(1)),
        listen: match a.listen.or_else(|| ctx.config.http.listen.clone()) {
            Some(l) if l == "none" => None,
            Some(l) => Some(l),
            None => Some("127.0.0.1:8080".to_string()),
        },
        workflows: ctx.workflows()?,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::runtime(e.to_string()))?;
    rt.block_on(crate::serve::run(opts))
        .map_err(|e| CliError::of(e.is_input(), e.to_string()))
}
