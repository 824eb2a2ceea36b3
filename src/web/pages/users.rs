//! The users page (`/users`, the organisation's DPO only): the users with their role and
//! last sign-in, a role to change, a user to disable or enable, colleagues to invite
//! (the link is shown once, right after inviting) and pending invitations to revoke.
//! And the invitation page (`/invitations/<token>`), where the invitee chooses their
//! own password and is signed in. The use-cases are `app::users`.

use super::case::OkQuery;
use crate::app::users::Mailed;
use crate::store::invitations::{Invitation, InvitationState, Member};
use crate::time::{self, Lang};
use crate::web::auth::{LOGIN_COOKIE, SESSION_COOKIE, cookie, same};
use crate::web::form::{PageCtx, PageForm, PageLang, PageResult, field, parse_form, see_other};
use crate::web::page::{Page, word};
use crate::web::users::{Sent, base_of};
use crate::web::{App, WebError};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde_json::{Value, json};
use std::sync::Arc;

const ROLES: [&str; 3] = ["dpo", "contributor", "viewer"];

fn roles(lang: Lang, chosen: &str) -> Vec<Value> {
    ROLES
        .iter()
        .map(|r| json!({"value": r, "label": word(lang, &format!("role_long_{r}")), "selected": *r == chosen}))
        .collect()
}

/// The zone the organisation's times are shown in: its workflow's, else UTC.
async fn zone_of(ctx: &PageCtx) -> chrono_tz::Tz {
    let p = ctx
        .app
        .for_caller(&ctx.caller)
        .read(|core, store, me| core.profile(store, &me.org))
        .await
        .ok();
    p.and_then(|p| p.workflow)
        .and_then(|w| ctx.app.workflows.get(&w))
        .map(|w| w.timezone)
        .unwrap_or(chrono_tz::UTC)
}

fn view(
    ctx: &PageCtx,
    members: &[Member],
    invitations: &[Invitation],
    zone: chrono_tz::Tz,
    sent: Option<&Sent>,
    typed: Option<(&str, &str)>,
) -> Value {
    let lang = ctx.lang;
    let users: Vec<Value> = members
        .iter()
        .map(|m| {
            json!({
                "email": m.user.email,
                "name": m.user.name,
                "role": m.user.role.as_str(),
                "role_label": word(lang, &format!("role_long_{}", m.user.role.as_str())),
                "roles": roles(lang, m.user.role.as_str()),
                "disabled": m.disabled,
                "me": m.user.id == ctx.caller.user.id,
                "last": m.last_sign_in
                    .map(|t| time::short_in(t, zone))
                    .unwrap_or_else(|| word(lang, "users_never")),
            })
        })
        .collect();
    let pending: Vec<Value> = invitations
        .iter()
        .filter(|i| i.state == InvitationState::Pending)
        .map(|i| {
            json!({
                "id": i.id,
                "email": i.email,
                "role_label": word(lang, &format!("role_long_{}", i.role.as_str())),
                "invited_by": i.invited_by,
                "expires": time::short_in(i.expires_at, zone),
            })
        })
        .collect();
    let invited = sent.map(|s| {
        let to = &s.invited.invitation.email;
        let mailed = match &s.mailed {
            Mailed::Sent => word(lang, "invite_mailed").replace("{email}", to),
            Mailed::Outbox(dir) => word(lang, "invite_outbox").replace("{dir}", dir),
            Mailed::Failed(why) => word(lang, "invite_mail_failed").replace("{why}", why),
        };
        json!({
            "email": to,
            "link": s.link,
            "expires": time::short_in(s.invited.invitation.expires_at, zone),
            "mailed": mailed,
        })
    });
    let (email, role) = typed.unwrap_or(("", "viewer"));
    json!({
        "users": users,
        "pending": pending,
        "invited": invited,
        "form": {"email": email, "roles": roles(lang, role)},
    })
}

/// The page, with what to report above it.
async fn render(
    ctx: &PageCtx,
    sent: Option<&Sent>,
    flash: Option<String>,
    error: Option<(String, StatusCode)>,
    typed: Option<(&str, &str)>,
) -> PageResult {
    let members = ctx.app.members(&ctx.caller).await.map_err(ctx.fail())?;
    let invitations = ctx.app.invitations(&ctx.caller).await.map_err(ctx.fail())?;
    let zone = zone_of(ctx).await;
    let mut page = ctx.page(ctx.word("users"), "/users");
    page.flash = flash;
    let status = match error {
        Some((message, status)) => {
            page.error = Some(message);
            status
        }
        None => StatusCode::OK,
    };
    let v = view(ctx, &members, &invitations, zone, sent, typed);
    Ok(page.render(&ctx.app, "users", v, status))
}

pub(super) async fn users_page(ctx: PageCtx, Query(q): Query<OkQuery>) -> PageResult {
    let flash =
        q.ok.filter(|k| ["role", "disabled", "enabled", "revoked"].contains(&k.as_str()))
            .map(|k| ctx.word(&format!("ok_user_{k}")));
    render(&ctx, None, flash, None, None).await
}

pub(super) async fn invite(headers: HeaderMap, PageForm { ctx, form }: PageForm) -> PageResult {
    let email = form.get("email").unwrap_or("").to_string();
    let role = form.get("role").unwrap_or("").to_string();
    let base = base_of(&ctx.app, &headers);
    match ctx
        .app
        .invite(&ctx.caller, email.clone(), role.clone(), base, ctx.lang)
        .await
    {
        Ok(sent) => {
            let flash = ctx
                .word("invite_done")
                .replace("{email}", &sent.invited.invitation.email);
            render(&ctx, Some(&sent), Some(flash), None, None).await
        }
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            render(
                &ctx,
                None,
                None,
                Some((e.message, e.status)),
                Some((&email, &role)),
            )
            .await
        }
        Err(e) => Err(ctx.error(e)),
    }
}

pub(super) async fn revoke(Path(id): Path<String>, PageForm { ctx, .. }: PageForm) -> PageResult {
    let Ok(id) = id.trim().parse::<i64>() else {
        return Err(ctx.error(crate::web::WebError::new(
            StatusCode::NOT_FOUND,
            "no such invitation",
        )));
    };
    ctx.app
        .revoke_invitation(&ctx.caller, id)
        .await
        .map_err(ctx.fail())?;
    Ok(see_other("/users?ok=revoked"))
}

/// A refused change: the page again, with the reason.
async fn refused(ctx: &PageCtx, e: crate::web::WebError) -> PageResult {
    if e.status == StatusCode::BAD_REQUEST {
        return render(ctx, None, None, Some((e.message, e.status)), None).await;
    }
    Err(ctx.error(e))
}

pub(super) async fn change_role(PageForm { ctx, form }: PageForm) -> PageResult {
    let email = form.get("email").unwrap_or("").to_string();
    let role = form.get("role").unwrap_or("").to_string();
    match ctx.app.set_role(&ctx.caller, email, role).await {
        Ok(_) => Ok(see_other("/users?ok=role")),
        Err(e) => refused(&ctx, e).await,
    }
}

pub(super) async fn disable(PageForm { ctx, form }: PageForm) -> PageResult {
    let email = form.get("email").unwrap_or("").to_string();
    match ctx.app.set_enabled(&ctx.caller, email, false).await {
        // A DPO who disabled their own account is signed out by it.
        Ok(m) if m.user.id == ctx.caller.user.id => Ok(see_other("/login")),
        Ok(_) => Ok(see_other("/users?ok=disabled")),
        Err(e) => refused(&ctx, e).await,
    }
}

pub(super) async fn enable(PageForm { ctx, form }: PageForm) -> PageResult {
    let email = form.get("email").unwrap_or("").to_string();
    match ctx.app.set_enabled(&ctx.caller, email, true).await {
        Ok(_) => Ok(see_other("/users?ok=enabled")),
        Err(e) => refused(&ctx, e).await,
    }
}

// ---- the invitation page: no session yet ----

fn bare(lang: Lang, title: String, here: &str, error: Option<String>) -> Page<'static> {
    Page {
        lang,
        caller: None,
        title,
        here: here.into(),
        flash: None,
        error,
    }
}

/// 410 for a link that was used, expired or was revoked; 404 for one that never was.
fn gone(app: &App, lang: Lang, state: Option<InvitationState>) -> Response {
    let (key, status) = match state {
        Some(InvitationState::Used) => ("invitation_used", StatusCode::GONE),
        Some(InvitationState::Expired) => ("invitation_expired", StatusCode::GONE),
        Some(InvitationState::Revoked) => ("invitation_revoked", StatusCode::GONE),
        Some(InvitationState::Pending) | None => ("invitation_unknown", StatusCode::NOT_FOUND),
    };
    bare(
        lang,
        word(lang, key),
        "/login",
        Some(word(lang, "invitation_gone_hint")),
    )
    .render(app, "message", json!({"heading": word(lang, key)}), status)
}

/// What the invitation's form shows: the invitation, the name typed, and why it was
/// refused (with the status), if it was.
struct AcceptForm<'a> {
    token: &'a str,
    inv: &'a Invitation,
    name: &'a str,
    error: Option<String>,
    status: StatusCode,
    /// The address already has an account (another organisation): its own password
    /// joins (issue 25 part 1).
    existing: bool,
}

/// The form, with a fresh double-submit token (cookie and field).
fn accept_form(app: &App, lang: Lang, jar: CookieJar, form: AcceptForm) -> Response {
    let AcceptForm {
        token,
        inv,
        name,
        error,
        status,
        existing,
    } = form;
    let login_token = crate::store::random_hex(16);
    let jar = jar.add(cookie(LOGIN_COOKIE, login_token.clone()));
    let intro = word(lang, "invitation_intro")
        .replace("{by}", &inv.invited_by)
        .replace(
            "{role}",
            &word(lang, &format!("role_long_{}", inv.role.as_str())),
        );
    let view = json!({
        "token": token,
        "form_token": login_token,
        "intro": intro,
        "email": inv.email,
        "name": name,
        "existing": existing,
    });
    let page = bare(
        lang,
        word(lang, "invitation_title"),
        &crate::app::users::invitation_path(token),
        error,
    );
    (jar, page.render(app, "invitation", view, status)).into_response()
}

/// The invitation of a link, and whether its address already has an account.
async fn invitation_and_person(
    app: &Arc<App>,
    token: &str,
) -> Result<(Option<Invitation>, bool), WebError> {
    let t = token.to_string();
    app.read(move |app, s| {
        let inv = app.invitation_state(s, &t, time::now())?;
        let existing = match &inv {
            Some(i) => s.person_exists(&i.email)?,
            None => false,
        };
        Ok((inv, existing))
    })
    .await
}

pub(super) async fn invitation_page(
    State(app): State<Arc<App>>,
    PageLang(lang): PageLang,
    Path(token): Path<String>,
    jar: CookieJar,
) -> Response {
    let found = invitation_and_person(&app, &token).await;
    match found {
        Ok((Some(inv), existing)) if inv.state == InvitationState::Pending => accept_form(
            &app,
            lang,
            jar,
            AcceptForm {
                token: &token,
                inv: &inv,
                name: "",
                error: None,
                status: StatusCode::OK,
                existing,
            },
        ),
        Ok((other, _)) => gone(&app, lang, other.map(|i| i.state)),
        Err(e) => e.into_response(),
    }
}

pub(super) async fn accept_invitation(
    State(app): State<Arc<App>>,
    PageLang(lang): PageLang,
    Path(token): Path<String>,
    jar: CookieJar,
    bytes: Bytes,
) -> Response {
    let typed = parse_form(&bytes);
    let text = |k: &str| field(&typed, k).unwrap_or("").to_string();
    let found = invitation_and_person(&app, &token).await;
    let (inv, existing) = match found {
        Ok((Some(inv), existing)) if inv.state == InvitationState::Pending => (inv, existing),
        Ok((other, _)) => return gone(&app, lang, other.map(|i| i.state)),
        Err(e) => return e.into_response(),
    };
    let again = |jar: CookieJar, msg: String, status: StatusCode| {
        accept_form(
            &app,
            lang,
            jar,
            AcceptForm {
                token: &token,
                inv: &inv,
                name: &text("name"),
                error: Some(msg),
                status,
                existing,
            },
        )
    };
    let expected = jar.get(LOGIN_COOKIE).map(|c| c.value().to_string());
    if !expected.is_some_and(|e| same(&e, &text("_csrf"))) {
        return again(jar, word(lang, "bad_form"), StatusCode::FORBIDDEN);
    }
    let password = text("password");
    if !existing && password != text("password2") {
        return again(
            jar,
            word(lang, "setup_passwords_differ"),
            StatusCode::BAD_REQUEST,
        );
    }
    let (t, name) = (token.clone(), text("name"));
    let made = app
        .write(move |app, s| {
            let now = time::now();
            match app.accept_invitation(s, &t, &name, &password, now)? {
                Ok(user) => {
                    let (secret, _csrf) = s.create_session(&user, now)?;
                    crate::web::log(&format!(
                        "organisation '{}': an invitation was accepted ({})",
                        user.org,
                        user.role.as_str()
                    ));
                    Ok(Ok(secret))
                }
                Err(state) => Ok(Err(state)),
            }
        })
        .await;
    match made {
        Ok(Ok(secret)) => {
            let jar = jar
                .remove(cookie(LOGIN_COOKIE, String::new()))
                .add(cookie(SESSION_COOKIE, secret));
            (jar, Redirect::to("/")).into_response()
        }
        Ok(Err(state)) => gone(&app, lang, state),
        Err(e) if e.status.is_client_error() => {
            let msg = if e.message.starts_with("password:") {
                word(lang, "invitation_weak_password")
            } else {
                e.message
            };
            again(jar, msg, e.status)
        }
        Err(e) => e.into_response(),
    }
}
