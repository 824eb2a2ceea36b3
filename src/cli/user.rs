//! `vigie user add|list|password|token`: people who sign in to the web page and the API.

use super::{CliError, Ctx, print_json};
use crate::store::Role;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum UserCmd {
    /// Add a user to the organisation given by --org. The password is read from the
    /// terminal (asked twice), or from the first line of standard input.
    Add {
        email: String,
        /// dpo (everything), contributor (facts and events) or viewer (read only).
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// List users (of every organisation with --all).
    List {
        #[arg(long)]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Set a new password (signs out every session of the user).
    Password { email: String },
    /// Create an API token for scripts; it is shown once.
    Token {
        email: String,
        /// What the token is for.
        #[arg(long, default_value = "script")]
        name: String,
    },
}

/// A password from the terminal (asked twice, not echoed) or standard input's first line.
fn read_password() -> Result<String, CliError> {
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        let a = rpassword::prompt_password("Password: ")
            .map_err(|e| CliError::runtime(format!("reading the password: {e}")))?;
        let b = rpassword::prompt_password("Again: ")
            .map_err(|e| CliError::runtime(format!("reading the password: {e}")))?;
        if a != b {
            return Err(CliError::input("the two passwords differ"));
        }
        Ok(a)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::runtime(format!("reading the password: {e}")))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }
}

pub(super) fn run(ctx: &Ctx, cmd: UserCmd) -> Result<(), CliError> {
    let now = ctx.now;
    match cmd {
        UserCmd::Add { email, role, name } => {
            let role = Role::parse(&role).ok_or_else(|| {
                CliError::input(format!(
                    "--role: '{role}' is not dpo, contributor or viewer"
                ))
            })?;
            let mut store = ctx.store()?;
            let password = read_password()?;
            let name = name.unwrap_or_else(|| email.clone());
            let u = store.add_user(&ctx.org, &email, &name, role, &password, now)?;
            say!(
                "user {} added to organisation '{}' as {}",
                u.email,
                u.org,
                u.role.as_str()
            );
        }
        UserCmd::List { all, json } => {
            let store = ctx.store()?;
            let users = store.users(if all { None } else { Some(&ctx.org) })?;
            if json {
                print_json(&serde_json::to_value(&users).expect("users serialize"));
            } else if users.is_empty() {
                say!("no user yet: add one with `vigie user add EMAIL --role dpo`");
            } else {
                for u in users {
                    say!(
                        "{:<32} {:<12} {:<16} {}",
                        u.email,
                        u.role.as_str(),
                        u.org,
                        u.name
                    );
                }
            }
        }
        UserCmd::Password { email } => {
            let mut store = ctx.store()?;
            let password = read_password()?;
            store.set_password(&email, &password)?;
            say!("password of {email} changed; their sessions are signed out");
        }
        UserCmd::Token { email, name } => {
            let mut store = ctx.store()?;
            let token = store.create_token(&email, &name, now)?;
            eprintln!(
                "API token '{name}' for {email} (shown once; send it as 'Authorization: Bearer TOKEN'):"
            );
            say!("{token}");
        }
    }
    Ok(())
}
