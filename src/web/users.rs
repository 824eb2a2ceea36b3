//! Colleagues on the web (issue 21 part 5): the use-cases of `app::users` as the users
//! page and the API call them (the organisation is always the caller's; only its DPO
//! may, 403 otherwise), and the API's handlers. The pages are in `pages/users.rs`; the
//! API's routes in `api::routes`.

use super::auth::ApiCaller;
use super::{App, Caller, WebError};
use crate::app::users::{Invited, Mailed, invitation_path};
use crate::store::invitations::{Invitation, Member};
use crate::time::Lang;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// A new invitation as the DPO sees it once: the link (with its secret) and what
/// became of its e-mail.
pub struct Sent {
    pub invited: Invited,
    pub link: String,
    pub mailed: Mailed,
}

fn dpo_only(caller: &Caller, what: &str) -> Result<(), WebError> {
    if caller.user.role.is_dpo() {
        Ok(())
    } else {
        Err(WebError::forbidden(what))
    }
}

impl App {
    /// The caller's organisation's users, with their last sign-in: its DPO only.
    pub async fn members(self: &Arc<Self>, caller: &Caller) -> Result<Vec<Member>, WebError> {
        dpo_only(caller, "see the organisation's users")?;
        let org = caller.user.org.clone();
        self.read(move |app, s| Ok(app.core.members(s, &org)?))
            .await
    }

    /// The caller's organisation's invitations: its DPO only.
    pub async fn invitations(
        self: &Arc<Self>,
        caller: &Caller,
    ) -> Result<Vec<Invitation>, WebError> {
        dpo_only(caller, "see the organisation's invitations")?;
        let org = caller.user.org.clone();
        self.read(move |app, s| Ok(app.core.invitations(s, &org, crate::time::now())?))
            .await
    }

    /// Invites a colleague into the caller's organisation: its DPO only. The link
    /// starts with `base` (the web page's address); its e-mail goes through the
    /// configured transport, in `lang`.
    pub async fn invite(
        self: &Arc<Self>,
        caller: &Caller,
        email: String,
        role: String,
        base: String,
        lang: Lang,
    ) -> Result<Sent, WebError> {
        dpo_only(caller, "invite users")?;
        let user = caller.user.clone();
        let (invited, link, mail) = self
            .write(move |app, s| {
                let now = crate::time::now();
                let invited = app
                    .core
                    .invite(s, &user.org, &user.actor(), &email, &role, now)?;
                let link = format!("{base}{}", invitation_path(&invited.token));
                let mail = app
                    .core
                    .invitation_mail(s, &invited.invitation, &link, lang, now);
                Ok((invited, link, mail))
            })
            .await?;
        let mailed = match mail {
            Ok((message, id)) => self.core.send_invitation(message, &id).await,
            Err(e) => Mailed::Failed(e.to_string()),
        };
        super::log(&format!(
            "organisation '{}': invitation {} made ({}), e-mail {}",
            invited.invitation.org,
            invited.invitation.id,
            invited.invitation.role.as_str(),
            mailed.as_str()
        ));
        Ok(Sent {
            invited,
            link,
            mailed,
        })
    }

    /// Revokes a pending invitation of the caller's organisation: its DPO only.
    pub async fn revoke_invitation(
        self: &Arc<Self>,
        caller: &Caller,
        id: i64,
    ) -> Result<Invitation, WebError> {
        dpo_only(caller, "revoke invitations")?;
        let org = caller.user.org.clone();
        self.write(move |app, s| {
            Ok(app
                .core
                .revoke_invitation(s, &org, id, crate::time::now())?)
        })
        .await
    }

    /// Changes the role of a user of the caller's organisation: its DPO only.
    pub async fn set_role(
        self: &Arc<Self>,
        caller: &Caller,
        email: String,
        role: String,
    ) -> Result<Member, WebError> {
        dpo_only(caller, "change roles")?;
        let org = caller.user.org.clone();
        self.write(move |app, s| Ok(app.core.set_role(s, &org, &email, &role)?))
            .await
    }

    /// Disables or enables a user of the caller's organisation: its DPO only.
    pub async fn set_enabled(
        self: &Arc<Self>,
        caller: &Caller,
        email: String,
        enabled: bool,
    ) -> Result<Member, WebError> {
        dpo_only(caller, "disable or enable users")?;
        let org = caller.user.org.clone();
        self.write(move |app, s| Ok(app.core.set_enabled(s, &org, &email, enabled)?))
            .await
    }
}

/// The address the links start with: `http.public_url`, else the one the client used.
pub(super) fn base_of(app: &App, headers: &HeaderMap) -> String {
    super::calendar::base_url(app, headers).unwrap_or_default()
}

pub(super) fn member_json(m: &Member) -> Value {
    json!({
        "email": m.user.email,
        "name": m.user.name,
        "role": m.user.role,
        "disabled": m.disabled,
        "last_sign_in": m.last_sign_in.map(|t| t.to_rfc3339()),
    })
}

pub(super) fn invitation_json(i: &Invitation) -> Value {
    json!({
        "id": i.id,
        "email": i.email,
        "role": i.role,
        "invited_by": i.invited_by,
        "created_at": i.created_at.to_rfc3339(),
        "expires_at": i.expires_at.to_rfc3339(),
        "state": i.state,
    })
}

fn body<T: serde::de::DeserializeOwned>(bytes: &Bytes) -> Result<T, WebError> {
    serde_json::from_slice(bytes).map_err(|e| WebError::bad(format!("request body: {e}")))
}

pub(super) async fn users_api(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
) -> Result<Response, WebError> {
    let list: Vec<Value> = app.members(&c).await?.iter().map(member_json).collect();
    Ok(axum::Json(Value::Array(list)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
}

pub(super) async fn user_change_api(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    Path(email): Path<String>,
    bytes: Bytes,
) -> Result<Response, WebError> {
    let b: ChangeBody = body(&bytes)?;
    if b.role.is_none() && b.disabled.is_none() {
        return Err(WebError::bad("request body: give role, disabled, or both"));
    }
    let mut m = None;
    if let Some(role) = b.role {
        m = Some(app.set_role(&c, email.clone(), role).await?);
    }
    if let Some(disabled) = b.disabled {
        m = Some(app.set_enabled(&c, email, !disabled).await?);
    }
    let m = m.expect("one change was made");
    Ok(axum::Json(member_json(&m)).into_response())
}

pub(super) async fn invites_api(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
) -> Result<Response, WebError> {
    let list: Vec<Value> = app
        .invitations(&c)
        .await?
        .iter()
        .map(invitation_json)
        .collect();
    Ok(axum::Json(Value::Array(list)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InviteBody {
    email: String,
    role: String,
    /// The e-mail's language (default: the organisation's, else fr).
    #[serde(default)]
    lang: Option<String>,
}

pub(super) async fn invite_api(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, WebError> {
    let b: InviteBody = body(&bytes)?;
    let lang = match b.lang.as_deref().map(str::trim) {
        None | Some("") => {
            let p = app
                .for_caller(&c)
                .read(|core, store, me| core.profile(store, &me.org))
                .await?;
            p.lang().unwrap_or(Lang::Fr)
        }
        Some(l) => Lang::parse(l).ok_or_else(|| {
            WebError::bad(format!(
                "lang: {} is not {}",
                crate::util::quote(l),
                Lang::choices()
            ))
        })?,
    };
    let base = base_of(&app, &headers);
    let sent = app.invite(&c, b.email, b.role, base, lang).await?;
    let mut v = invitation_json(&sent.invited.invitation);
    v["link"] = json!(sent.link);
    v["mail"] = json!(sent.mailed.as_str());
    Ok((StatusCode::CREATED, axum::Json(v)).into_response())
}

pub(super) async fn revoke_api(
    State(app): State<Arc<App>>,
    ApiCaller(c): ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let id: i64 = id
        .trim()
        .parse()
        .map_err(|_| WebError::new(StatusCode::NOT_FOUND, "no such invitation"))?;
    let i = app.revoke_invitation(&c, id).await?;
    Ok(axum::Json(invitation_json(&i)).into_response())
}
