//! `vigie org add|list|set|show`: organisations and their profiles.

use super::{CliError, Ctx, print_json};
use crate::org::Profile;
use crate::store::Store;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum OrgCmd {
    /// Add an organisation.
    Add {
        /// Short id: lowercase letters, digits, '-' or '_'.
        id: String,
        #[arg(long)]
        name: String,
    },
    /// List the organisations.
    List,
    /// Change an organisation's profile: what its drafts, letters and reminders carry.
    /// An empty value unsets a field.
    Set(Box<SetArgs>),
    /// Show an organisation's profile, as its drafts and reminders will use it.
    Show {
        /// The organisation (default: --org).
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct SetArgs {
    /// The organisation (default: --org).
    id: Option<String>,
    #[arg(long)]
    name: Option<String>,
    /// SIREN in France, enterprise number (BCE/KBO) in Belgium.
    #[arg(long)]
    identifier: Option<String>,
    #[arg(long)]
    address: Option<String>,
    #[arg(long)]
    sector: Option<String>,
    #[arg(long)]
    dpo_name: Option<String>,
    #[arg(long)]
    dpo_email: Option<String>,
    #[arg(long)]
    dpo_phone: Option<String>,
    /// Who signs the notifications.
    #[arg(long)]
    representative_name: Option<String>,
    #[arg(long)]
    representative_role: Option<String>,
    /// Reminder recipients, comma-separated (default: the DPO's e-mail).
    #[arg(long)]
    reminders_to: Option<String>,
    /// Also told of every overdue reminder, comma-separated.
    #[arg(long)]
    escalation: Option<String>,
    /// fr, en or nl: the reminders' and drafts' language.
    #[arg(long)]
    lang: Option<String>,
    /// The workflow `case open` uses when none is named.
    #[arg(long)]
    workflow: Option<String>,
    /// A NIS2 essential or important entity: yes, no or unknown. New cases take it as
    /// their fact nis2_entity; open cases keep theirs.
    #[arg(long)]
    nis2_entity: Option<String>,
    /// A DORA financial entity: yes, no or unknown (new cases' dora_entity).
    #[arg(long)]
    dora_entity: Option<String>,
    /// A manufacturer of products with digital elements under the Cyber Resilience Act:
    /// yes, no or unknown (new cases' cra_manufacturer).
    #[arg(long)]
    cra_manufacturer: Option<String>,
    /// Insured against cyber risks: yes, no or unknown (new cases' cyber_insured).
    #[arg(long)]
    cyber_insured: Option<String>,
    /// Where DORA reports go: ACPR or AMF (France), NBB/BNB or FSMA (Belgium).
    #[arg(long)]
    financial_supervisor: Option<String>,
    /// Who else than the DPO answers the authority about a breach (the EDPB template's
    /// contact person): name, function, e-mail, phone. A case's facts may name another.
    #[arg(long)]
    contact_name: Option<String>,
    #[arg(long)]
    contact_function: Option<String>,
    #[arg(long)]
    contact_email: Option<String>,
    #[arg(long)]
    contact_phone: Option<String>,
}

impl SetArgs {
    /// (field, value) in the order of `crate::org::FIELDS`.
    fn changes(&self) -> Vec<(String, String)> {
        [
            ("name", &self.name),
            ("identifier", &self.identifier),
            ("address", &self.address),
            ("sector", &self.sector),
            ("dpo-name", &self.dpo_name),
            ("dpo-email", &self.dpo_email),
            ("dpo-phone", &self.dpo_phone),
            ("representative-name", &self.representative_name),
            ("representative-role", &self.representative_role),
            ("reminders-to", &self.reminders_to),
            ("escalation", &self.escalation),
            ("lang", &self.lang),
            ("workflow", &self.workflow),
            ("nis2-entity", &self.nis2_entity),
            ("dora-entity", &self.dora_entity),
            ("cra-manufacturer", &self.cra_manufacturer),
            ("cyber-insured", &self.cyber_insured),
            ("financial-supervisor", &self.financial_supervisor),
            ("contact-name", &self.contact_name),
            ("contact-function", &self.contact_function),
            ("contact-email", &self.contact_email),
            ("contact-phone", &self.contact_phone),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.as_ref().map(|v| (f.to_string(), v.clone())))
        .collect()
    }
}

pub(super) fn run(ctx: &Ctx, cmd: OrgCmd) -> Result<(), CliError> {
    let mut store = Store::open_url(&ctx.db)?;
    match cmd {
        OrgCmd::Add { id, name } => {
            ctx.app()?.add_org(&mut store, &id, &name)?;
            say!(
                "organisation '{id}' added: describe it with `vigie org set {id} --dpo-email ... --representative-name ...`, add its users with `vigie --org {id} user add EMAIL --role dpo`"
            );
        }
        OrgCmd::List => {
            for (id, name) in store.organisations()? {
                say!("{id:<20} {name}");
            }
        }
        OrgCmd::Set(args) => {
            let id = args.id.clone().unwrap_or_else(|| ctx.org.clone());
            let changes = args.changes();
            if changes.is_empty() {
                return Err(CliError::input(
                    "org set: give at least one field, e.g. --dpo-email ADDRESS (see `vigie org set --help`)",
                ));
            }
            let p = ctx.app()?.set_profile(&mut store, &id, &changes)?;
            say!("profile of organisation '{id}' updated");
            print_profile(&p);
        }
        OrgCmd::Show { id, json } => {
            let id = id.unwrap_or_else(|| ctx.org.clone());
            let p = ctx.app()?.profile(&mut store, &id)?;
            if json {
                let mut v = serde_json::to_value(&p).expect("a profile serializes");
                v["id"] = serde_json::Value::String(id);
                print_json(&v);
            } else {
                print_profile(&p);
            }
        }
    }
    Ok(())
}

fn print_profile(p: &Profile) {
    for f in crate::org::FIELDS {
        let v = p.get(f);
        let unset = if crate::org::REGIME_FIELDS.contains(f) {
            "(not known)"
        } else {
            "(not set)"
        };
        say!("{:<20} {}", f, if v.is_empty() { unset.into() } else { v });
    }
}
