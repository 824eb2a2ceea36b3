//! `vigie outbox list|retry` and `vigie mail test`: the reminders and how they leave.

use super::{CliError, Ctx, print_json};
use crate::time;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum OutboxCmd {
    /// Pending, failed, waiting (for a recipient) and dead reminders (--all: sent and
    /// cancelled too).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Requeue a dead or failing reminder now.
    Retry { id: i64 },
}

#[derive(Subcommand)]
pub enum MailCmd {
    /// Send a test message through the configured transport.
    Test { address: String },
}

pub(super) fn run(ctx: &Ctx, cmd: OutboxCmd) -> Result<(), CliError> {
    let org = ctx.org.as_str();
    match cmd {
        OutboxCmd::List { all, json } => {
            let mut store = ctx.org_store()?;
            let rows = ctx.app()?.outbox(&mut store, org, all)?;
            if json {
                print_json(&serde_json::to_value(&rows).expect("rows serialize"));
            } else if rows.is_empty() {
                say!("no reminder waiting");
            } else {
                say!(
                    "{:<6} {:<20} {:<20} {:<12} {:<24} {:<10} {:<4} {}",
                    "ID",
                    "CASE",
                    "CLOCK",
                    "OFFSET",
                    "DUE (UTC)",
                    "STATE",
                    "TRY",
                    "LAST ERROR"
                );
                for r in rows {
                    say!(
                        "{:<6} {:<20} {:<20} {:<12} {:<24} {:<10} {:<4} {}",
                        r.id,
                        r.case,
                        r.clock,
                        r.offset,
                        &r.due_at[..19],
                        r.state,
                        r.attempts,
                        r.last_error.unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        OutboxCmd::Retry { id } => {
            let mut store = ctx.org_store()?;
            ctx.app()?.retry_reminder(&mut store, org, id, ctx.now)?;
            say!("reminder {id} requeued");
            Ok(())
        }
    }
}

pub(super) fn mail(ctx: &Ctx, cmd: MailCmd) -> Result<(), CliError> {
    let MailCmd::Test { address } = cmd;
    let to = crate::mail::mailbox(&address).map_err(|e| CliError::input(e.to_string()))?;
    let from = ctx
        .config
        .mail
        .from_mailbox()
        .map_err(|e| CliError::input(format!("mail configuration: {e}")))?;
    let id = crate::mail::message_id(
        &format!(
            "test/{}",
            time::now().timestamp_nanos_opt().unwrap_or_default()
        ),
        &ctx.config.mail.message_id_domain(),
    );
    let msg = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject("vigie : message de test / test message")
        .message_id(Some(id.clone()))
        .body("Ce message confirme que vigie peut envoyer les rappels d'échéance.\nThis message confirms that vigie can send deadline reminders.\n".to_string())
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::runtime(e.to_string()))?;
    // The SMTP pool starts a task when built: inside the runtime.
    rt.block_on(async {
        let mailer = ctx
            .config
            .mail
            .mailer()
            .map_err(|e| CliError::input(format!("mail configuration: {e}")))?;
        if let Some(w) = ctx.config.mail.warning() {
            eprintln!("{w}");
        }
        mailer
            .send(msg, &id)
            .await
            .map_err(|e| CliError::runtime(format!("test message not sent: {}", e.message)))?;
        match &mailer {
            crate::mail::Mailer::File(dir) => say!("test message written to {}", dir.display()),
            crate::mail::Mailer::Smtp(_) => {
                say!("test message handed to the SMTP server, Message-ID {id}")
            }
        }
        Ok(())
    })
}
