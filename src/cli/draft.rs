//! `vigie draft CASE DOCUMENT`: a document of a case, signed by the case's organisation.

use super::{CliError, Ctx, write_atomic};
use crate::app::DraftRequest;
use crate::app::issued::{Content, IssueRequest};
use clap::Args;
use std::path::PathBuf;

#[derive(Args)]
pub struct DraftArgs {
    id: String,
    document: String,
    /// fr, en or nl (default: the organisation's language, else the workflow's).
    #[arg(long)]
    lang: Option<String>,
    /// md, html, txt, json (the EDPB template: docs/edpb-template.md), or pdf (A4; needs --out).
    #[arg(long, default_value = "md")]
    format: String,
    #[arg(long)]
    out: Option<PathBuf>,
    /// Fail when facts the document needs are missing.
    #[arg(long)]
    strict: bool,
    /// Record in the register that this exact text was issued (its SHA-256).
    #[arg(long)]
    record: bool,
    /// Once the authority is notified, the initial notification rather than a
    /// complementary one: the text recorded then (--record), else the document drafted
    /// from the case as it stood when the notification was sent.
    #[arg(long, conflicts_with = "record")]
    initial: bool,
    /// The authority's form (CNIL teleservice, APD part 1 or 2, EDPB template) in its
    /// own order, one answer per line: `screen / field: value [marks]`.
    #[arg(long, conflicts_with_all = ["record", "initial", "out"])]
    fill: bool,
}

pub(super) fn run(ctx: &Ctx, args: DraftArgs) -> Result<(), CliError> {
    if args.fill {
        let app = ctx.app()?;
        let mut store = ctx.org_store()?;
        let req = DraftRequest {
            document: args.document.clone(),
            lang: args.lang.clone(),
            format: None,
        };
        let fill = app.fill(&mut store, &ctx.org, &args.id, &req, ctx.now)?;
        let labels = app.fill_labels(&mut store, &ctx.org, &fill)?;
        say_raw!("{}", crate::app::fill::text(&fill, &labels));
        return Ok(());
    }
    if args.format.trim() == "pdf" {
        return run_pdf(ctx, args);
    }
    let app = ctx.app()?;
    let mut store = ctx.org_store()?;
    let req = DraftRequest {
        document: args.document.clone(),
        lang: args.lang.clone(),
        format: Some(args.format.clone()),
    };
    let (d, format, lang) = if args.initial {
        let (d, format, lang, from) =
            app.draft_initial(&mut store, &ctx.org, &args.id, &req, ctx.now)?;
        match from {
            crate::app::initial::InitialFrom::Recorded { at, sha256 } => eprintln!(
                "note: the initial notification as recorded in the register on {at} (sha256:{sha256})"
            ),
            crate::app::initial::InitialFrom::AsNotified { at } => eprintln!(
                "note: the initial notification drafted from the case as it stood when the authority was notified ({at})"
            ),
            crate::app::initial::InitialFrom::NotNotified => {
                eprintln!("note: the authority is not notified yet: this draft is the initial one")
            }
        }
        (d, format, lang)
    } else {
        app.draft(&mut store, &ctx.org, &args.id, &req, ctx.now)?
    };
    if args.strict && !d.missing.is_empty() {
        return Err(CliError::input(format!(
            "draft {} is missing: {} (--strict)",
            crate::util::quote(&args.document),
            d.missing.join(", ")
        )));
    }
    match &args.out {
        Some(path) => write_atomic(path, &d.text)?,
        // JSON is for programs: byte-exact, escaped by JSON's own rules.
        None if format == crate::render::Format::Json => {
            say_data!("{}", super::json_text(&d.text))
        }
        None => say_raw!("{}", d.text),
    }
    if let Some(w) = &d.warning {
        eprintln!("{w}");
    }
    if let Some(asked) = args.lang.as_deref().and_then(crate::time::Lang::parse)
        && asked != lang
    {
        eprintln!(
            "note: this case's workflow does not draft in {}: written in {}",
            asked.code(),
            lang.code()
        );
    }
    if !d.missing.is_empty() && format == crate::render::Format::Json {
        eprintln!(
            "note: {} field(s) of the template missing (null): {}",
            d.missing.len(),
            d.missing.join(", ")
        );
    } else if !d.missing.is_empty() {
        eprintln!(
            "note: {} fact(s) missing, shown as placeholders: {}",
            d.missing.len(),
            d.missing.join(", ")
        );
    }
    if args.record {
        let r = app.issue(
            &mut store,
            &IssueRequest {
                org: &ctx.org,
                actor: &ctx.actor,
                id: &args.id,
                document: &args.document,
                lang,
                content: Content::Text {
                    text: &d.text,
                    format,
                },
                now: ctx.now,
            },
        )?;
        if r.already {
            eprintln!(
                "already recorded in the register: {} sha256:{} (nothing added)",
                args.document, r.sha256
            );
        } else {
            eprintln!(
                "recorded in the register: {} sha256:{}",
                args.document, r.sha256
            );
        }
    }
    Ok(())
}

/// `--format pdf`: the draft laid out on A4, written to `--out` (never to a terminal);
/// `--record` records the SHA-256 of these exact bytes.
fn run_pdf(ctx: &Ctx, args: DraftArgs) -> Result<(), CliError> {
    let Some(path) = &args.out else {
        return Err(CliError::input(
            "--format pdf: give --out FILE (a PDF is not written to the terminal)",
        ));
    };
    if args.initial {
        return Err(CliError::input(
            "--initial: give --format md, html, txt or json (the initial notification as a PDF is not drafted yet)",
        ));
    }
    let app = ctx.app()?;
    let mut store = ctx.org_store()?;
    let req = DraftRequest {
        document: args.document.clone(),
        lang: args.lang.clone(),
        format: Some("md".into()),
    };
    let d = app.draft_pdf(&mut store, &ctx.org, &args.id, &req, ctx.now)?;
    if args.strict && !d.missing.is_empty() {
        return Err(CliError::input(format!(
            "draft {} is missing: {} (--strict)",
            crate::util::quote(&args.document),
            d.missing.join(", ")
        )));
    }
    write_atomic(path, &d.bytes)?;
    let l = app.case(&mut store, &ctx.org, &args.id)?;
    if let Some(w) = crate::app::regimes::check_document(&l.workflow, &l.case, &args.document)? {
        eprintln!("{w}");
    }
    if !d.missing.is_empty() {
        eprintln!(
            "note: {} fact(s) missing, shown as placeholders: {}",
            d.missing.len(),
            d.missing.join(", ")
        );
    }
    if args.record {
        let r = app.issue(
            &mut store,
            &IssueRequest {
                org: &ctx.org,
                actor: &ctx.actor,
                id: &args.id,
                document: &args.document,
                lang: d.lang,
                content: Content::Bytes {
                    bytes: &d.bytes,
                    format: "pdf",
                },
                now: ctx.now,
            },
        )?;
        let sha = r.sha256;
        if r.already {
            eprintln!(
                "already recorded in the register: {} sha256:{sha} (nothing added)",
                args.document
            );
        } else {
            eprintln!("recorded in the register: {} sha256:{sha}", args.document);
        }
    }
    Ok(())
}
