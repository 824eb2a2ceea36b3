//! The first start's setup link: with no account yet, a one-time link printed in the log.

use super::{ServeError, log};
use crate::config::Config;
use crate::store::Store;
use crate::time;

/// With no account in the database, a one-time link where the first DPO names the
/// organisation and creates their account (`app::setup`), printed in the log.
pub(super) fn setup_link(
    store: &mut Store,
    cfg: &Config,
    local: std::net::SocketAddr,
) -> Result<(), ServeError> {
    if !crate::app::setup::needs_setup(store)? {
        return Ok(());
    }
    let token = crate::app::setup::issue_link(store, time::now())?;
    let base = match &cfg.http.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            // An address to type in a browser: 0.0.0.0 and [::] are not.
            let mut a = local;
            if a.ip().is_unspecified() {
                a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
            }
            format!("http://{a}")
        }
    };
    log(&format!(
        "no account yet: create the organisation and its DPO's account at {base}/setup/{token} (valid {} minutes, usable once)",
        crate::app::setup::LINK_TTL.num_minutes()
    ));
    Ok(())
}
