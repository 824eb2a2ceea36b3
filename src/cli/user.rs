//! `vigie user add|list|password|disable|enable|invite|invitations|revoke-invitation|role|token`: people who sign in to the web
//! page and the API, and their API tokens.

use super::{CliError, Ctx, print_json};
use crate::store::Role;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::Value;

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
    /// Set a new password (signs out every session and revokes every API token of the
    /// user).
    Password { email: String },
    /// Disable a user: their sessions end and their API tokens are refused at once.
    Disable { email: String },
    /// Enable a disabled user again (their API tokens work again).
    Enable { email: String },
    /// Invite a colleague into the organisation given by --org with a role: prints a
    /// one-time link (valid 7 days) where they choose their own password, and e-mails
    /// it through the configured transport (SMTP, or the outbox folder).
    Invite {
        email: String,
        /// dpo (everything), contributor (facts and events) or viewer (read only).
        #[arg(long)]
        role: String,
        /// The e-mail's language (default: the organisation's, else fr).
        #[arg(long)]
        lang: Option<String>,
        /// Print the link only; send no e-mail.
        #[arg(long)]
        no_email: bool,
    },
    /// The invitations of --org, newest first, with their state (pending, used,
    /// expired, revoked). Never the links.
    Invitations {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a pending invitation of --org by its id (from `user invitations`).
    RevokeInvitation { id: i64 },
    /// Change the role of a user of --org (an organisation keeps an enabled DPO).
    Role {
        email: String,
        /// dpo, contributor or viewer.
        #[arg(long)]
        role: String,
    },
    /// API tokens for scripts: `create EMAIL` (shown once), `list`, `revoke ID`.
    /// `vigie user token EMAIL` is `vigie user token create EMAIL`.
    Token(TokenArgs),
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct TokenArgs {
    #[command(subcommand)]
    cmd: Option<TokenCmd>,
    /// The user to create a token for (as `token create EMAIL`).
    #[arg(required = true)]
    email: Option<String>,
    /// What the token is for.
    #[arg(long, default_value = "script")]
    name: String,
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create an API token for the user with this e-mail; it is shown once.
    Create {
        email: String,
        /// What the token is for.
        #[arg(long, default_value = "script")]
        name: String,
    },
    /// The API tokens of --org (every organisation with --all), or of one user: id,
    /// user, name, created, last used. Never the secret.
    List {
        email: Option<String>,
        #[arg(long, conflicts_with = "email")]
        all: bool,
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API token by its id (from `token list`, or the first 12 hex digits of
    /// `printf %s TOKEN | sha256sum`); its next request is refused.
    Revoke { id: String },
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
        UserCmd::Add { email, role, name } => add(ctx, &email, &role, name, now)?,
        UserCmd::List { all, json } => {
            let mut store = ctx.store()?;
            let users = store.accounts(if all { None } else { Some(&ctx.org) })?;
            if json {
                let rows: Vec<Value> = users
                    .iter()
                    .map(|(u, disabled)| {
                        let mut v = serde_json::to_value(u).expect("users serialize");
                        v["disabled"] = Value::Bool(*disabled);
                        v
                    })
                    .collect();
                print_json(&Value::Array(rows));
            } else if users.is_empty() {
                say!("no user yet: add one with `vigie user add EMAIL --role dpo`");
            } else {
                for (u, disabled) in users {
                    say!(
                        "{:<32} {:<12} {:<16} {}{}",
                        u.email,
                        u.role.as_str(),
                        u.org,
                        crate::util::one_line(&u.name),
                        if disabled { " (disabled)" } else { "" }
                    );
                }
            }
        }
        UserCmd::Password { email } => {
            let mut store = ctx.store()?;
            let password = read_password()?;
            let tokens = store.set_password(&email, &password)?;
            say!(
                "password of {email} changed; their sessions are signed out and their {tokens} API token(s) revoked"
            );
        }
        UserCmd::Disable { email } => {
            let mut store = ctx.store()?;
            let (u, tokens) = store.set_disabled(&email, ctx.membership_org(), true)?;
            say!(
                "user {} disabled in organisation '{}': signed out of it, its calendar address ended, and their {tokens} API token(s) there refused until `vigie --org {} user enable {}`",
                u.email,
                u.org,
                u.org,
                u.email
            );
        }
        UserCmd::Enable { email } => {
            let mut store = ctx.store()?;
            let (u, tokens) = store.set_disabled(&email, ctx.membership_org(), false)?;
            say!(
                "user {} enabled in organisation '{}': they can sign in to it, and their {tokens} API token(s) there work again",
                u.email,
                u.org
            );
        }
        UserCmd::Invite {
            email,
            role,
            lang,
            no_email,
        } => invite(ctx, &email, &role, lang.as_deref(), no_email, now)?,
        UserCmd::Invitations { json } => {
            let mut store = ctx.org_store()?;
            let list = ctx.app()?.invitations(&mut store, &ctx.org, now)?;
            if json {
                print_json(&serde_json::to_value(&list).expect("invitations serialize"));
            } else if list.is_empty() {
                say!(
                    "no invitation: invite a colleague with `vigie user invite EMAIL --role ROLE`"
                );
            } else {
                say!(
                    "{:<6} {:<32} {:<12} {:<9} {:<26} INVITED BY",
                    "ID",
                    "E-MAIL",
                    "ROLE",
                    "STATE",
                    "EXPIRES"
                );
                for i in list {
                    say!(
                        "{:<6} {:<32} {:<12} {:<9} {:<26} {}",
                        i.id,
                        i.email,
                        i.role.as_str(),
                        i.state.as_str(),
                        i.expires_at.to_rfc3339(),
                        i.invited_by
                    );
                }
            }
        }
        UserCmd::RevokeInvitation { id } => {
            let mut store = ctx.org_store()?;
            let i = ctx
                .app()?
                .revoke_invitation(&mut store, &ctx.org, id, now)?;
            say!(
                "invitation {} of {} revoked: its link no longer works",
                i.id,
                i.email
            );
        }
        UserCmd::Role { email, role } => {
            let mut store = ctx.org_store()?;
            let m = ctx.app()?.set_role(&mut store, &ctx.org, &email, &role)?;
            say!(
                "user {} of organisation '{}' is now {}",
                m.user.email,
                m.user.org,
                m.user.role.as_str()
            );
        }
        UserCmd::Token(args) => match args.cmd {
            None => create_token(ctx, &args.email.unwrap_or_default(), &args.name, now)?,
            Some(TokenCmd::Create { email, name }) => create_token(ctx, &email, &name, now)?,
            Some(TokenCmd::List { email, all, json }) => {
                let mut store = ctx.store()?;
                let org = (!all && email.is_none()).then_some(ctx.org.as_str());
                let tokens = store.tokens(org, email.as_deref())?;
                if json {
                    print_json(&serde_json::to_value(&tokens).expect("tokens serialize"));
                } else if tokens.is_empty() {
                    say!("no API token: create one with `vigie user token create EMAIL`");
                } else {
                    say!(
                        "{:<13} {:<32} {:<16} {:<20} {:<26} LAST USED",
                        "ID",
                        "USER",
                        "ORGANISATION",
                        "NAME",
                        "CREATED"
                    );
                    for t in tokens {
                        say!(
                            "{:<13} {:<32} {:<16} {:<20} {:<26} {}{}",
                            t.id,
                            t.email,
                            t.org,
                            crate::util::one_line(&t.name),
                            t.created_at,
                            t.last_used_at.as_deref().unwrap_or("never"),
                            if t.user_disabled {
                                " (user disabled)"
                            } else {
                                ""
                            }
                        );
                    }
                }
            }
            Some(TokenCmd::Revoke { id }) => {
                let mut store = ctx.store()?;
                let t = store.revoke_token(&id)?;
                say!(
                    "API token {} ({}) of {} revoked",
                    t.id,
                    crate::util::quote(&t.name),
                    t.email
                );
            }
        },
    }
    Ok(())
}

/// `vigie user add`: a new person, or a membership more for an existing one.
fn add(
    ctx: &Ctx,
    email: &str,
    role: &str,
    name: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), CliError> {
    let role = Role::parse(role).ok_or_else(|| {
        CliError::input(format!(
            "--role: {} is not dpo, contributor or viewer",
            crate::util::quote(role)
        ))
    })?;
    let mut store = ctx.org_store()?;
    // A person who already has an account elsewhere gets a membership here:
    // their password stays theirs (issue 25 part 1).
    let elsewhere = ctx.app()?.member_elsewhere(&mut store, email)?;
    if !elsewhere.is_empty() {
        let u = ctx
            .app()?
            .add_member(&mut store, &ctx.org, email, role, now)?;
        say!(
            "{} already has an account (in {}): added to organisation '{}' as {} (a new membership; their password, sessions and other organisations are unchanged)",
            u.email,
            elsewhere.join(", "),
            u.org,
            u.role.as_str()
        );
        return Ok(());
    }
    let password = read_password()?;
    let name = name.unwrap_or_else(|| email.to_string());
    let u = ctx.app()?.add_user(
        &mut store,
        &ctx.org,
        &crate::app::NewUser {
            email,
            name: &name,
            role,
            password: &password,
        },
        now,
    )?;
    say!(
        "user {} added to organisation '{}' as {}",
        u.email,
        u.org,
        u.role.as_str()
    );
    Ok(())
}

fn create_token(ctx: &Ctx, email: &str, name: &str, now: DateTime<Utc>) -> Result<(), CliError> {
    let mut store = ctx.store()?;
    let (user, token) = store.create_token(email, ctx.membership_org(), name, now)?;
    let id = &crate::util::hash::sha256_hex(&token)[..crate::store::TOKEN_ID_LEN];
    eprintln!(
        "API token {} (id {id}) for {email} in organisation '{}', and no other (shown once; send it as 'Authorization: Bearer TOKEN'):",
        crate::util::one_line(&crate::util::quote(name)),
        user.org
    );
    say!("{token}");
    Ok(())
}

/// `vigie user invite`: the link on standard output; what became of the e-mail on
/// standard error.
fn invite(
    ctx: &Ctx,
    email: &str,
    role: &str,
    lang: Option<&str>,
    no_email: bool,
    now: DateTime<Utc>,
) -> Result<(), CliError> {
    use crate::app::users::Mailed;
    let lang = match lang.map(str::trim) {
        None | Some("") => None,
        Some(l) => Some(crate::time::Lang::parse(l).ok_or_else(|| {
            CliError::input(format!(
                "--lang: {} is not {}",
                crate::util::quote(l),
                crate::time::Lang::choices()
            ))
        })?),
    };
    let mut store = ctx.org_store()?;
    let app = ctx.app()?;
    // Who invites, as the invitee reads it: the organisation's DPO as its profile names
    // them (the command line has no signed-in user).
    let profile = app.profile(&mut store, &ctx.org)?;
    let by = profile
        .dpo
        .name
        .clone()
        .or(profile.dpo.email.clone())
        .unwrap_or_else(|| format!("the DPO of {}", ctx.org));
    let invited = app.invite(&mut store, &ctx.org, &by, email, role, now)?;
    // The web page's address: `http.public_url`, else where `vigie serve` listens.
    let base = match ctx.config.http.public_url.as_deref().map(str::trim) {
        Some(u) if !u.is_empty() => u.trim_end_matches('/').to_string(),
        _ => format!(
            "http://{}",
            ctx.config
                .http
                .listen
                .as_deref()
                .unwrap_or("127.0.0.1:8080")
        ),
    };
    let link = format!(
        "{base}{}",
        crate::app::users::invitation_path(&invited.token)
    );
    let i = &invited.invitation;
    eprintln!(
        "invitation {} of {} into organisation '{}' as {}, valid until {} (usable once):",
        i.id,
        i.email,
        i.org,
        i.role.as_str(),
        i.expires_at.to_rfc3339()
    );
    say!("{link}");
    if no_email {
        return Ok(());
    }
    let lang = match lang {
        Some(l) => l,
        None => profile.lang().unwrap_or_default(),
    };
    let mailed = match app.invitation_mail(&mut store, i, &link, lang, now) {
        Ok((message, id)) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::runtime(e.to_string()))?;
            rt.block_on(app.send_invitation(message, &id))
        }
        Err(e) => Mailed::Failed(e.to_string()),
    };
    match mailed {
        Mailed::Sent => eprintln!("e-mailed to {}", i.email),
        Mailed::Outbox(dir) => eprintln!(
            "the e-mail was written to the outbox folder {dir} (mail.transport: file): send the link yourself"
        ),
        Mailed::Failed(why) => eprintln!("the e-mail was not sent ({why}): send the link yourself"),
    }
    Ok(())
}
