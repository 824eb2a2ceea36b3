//! The README's "Five minutes with a new breach" stays true (issue 21 part 7): a new DPO
//! sets up the organisation on the web setup page, as the README's first screen says,
//! then every `vigie` command of that section's shell block runs, in order and as
//! written, through the real binary against the same fresh database. Each must exit 0,
//! and the audit must find the register intact.

use crate::both_backends;
use crate::common;

use common::Vigie;
use common::web::{Browser, first_start, hidden};
use std::process::Command;

both_backends! {
    the_five_minutes_of_the_readme_run_as_written,
}

const SECTION: &str = "## Five minutes with a new breach";

/// The shell block under [`SECTION`]: its logical lines (a `\` at the end of a line joins
/// the next), without blank lines and comment lines.
fn five_minutes() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = readme
        .find(&format!("\n{SECTION}\n"))
        .unwrap_or_else(|| panic!("README.md has no '{SECTION}' section"));
    let section = &readme[start + SECTION.len() + 2..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let open = section
        .find("```sh\n")
        .expect("the section has a ```sh block");
    let block = &section[open + "```sh\n".len()..];
    let block = &block[..block.find("\n```").expect("the ```sh block is closed")];

    let mut lines = Vec::new();
    let mut current = String::new();
    for line in block.lines() {
        if current.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        match line.trim_end().strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line.trim());
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    assert!(current.is_empty(), "the block ends with a continued line");
    lines
}

/// The organisation the block works in: its `export VIGIE_ORG=ID` line.
fn organisation(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("export VIGIE_ORG="))
        .map(|id| id.split_whitespace().next().unwrap().to_string())
        .expect("after a web setup the block names the organisation: export VIGIE_ORG=ID")
}

/// The web setup as a new DPO does it: `vigie serve` on the fresh database prints a
/// one-time link, and the form there makes the organisation `org` and its DPO.
fn set_up_in_the_browser(v: &Vigie, org: &str) {
    let (mut serve, base, link) = first_start(v);
    let path = &link[link.find("/setup/").expect("a setup link")..];
    let mut b = Browser::new(&base);
    let (status, html, _) = b.get(path);
    assert_eq!(status, 200, "{html}");
    let token = hidden(&html, "_login").expect("the setup form has its CSRF field");
    let password = "a long enough password";
    let r = b.post_form(
        path,
        &[
            ("_login", &token),
            ("org_name", "ACME SA"),
            ("org_id", org),
            ("workflow", "fr"),
            ("dpo_email", "dpo@acme.example"),
            ("name", "Camille Martin"),
            ("email", "camille@acme.example"),
            ("password", password),
            ("password_again", password),
        ],
    );
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().unwrap_or_default());
    serve.kill9();
}

fn the_five_minutes_of_the_readme_run_as_written() {
    let lines = five_minutes();
    let org = organisation(&lines);
    let commands: Vec<&String> = lines.iter().filter(|l| !l.starts_with("export ")).collect();
    for c in &commands {
        assert!(
            c.starts_with("vigie "),
            "the block runs vigie commands only (and export lines): {c}"
        );
    }
    // The steps in the order a DPO works: the notification is drafted before it is
    // recorded as sent (else the draft is the complementary one).
    let at = |what: &str| {
        commands
            .iter()
            .position(|c| c.contains(what))
            .unwrap_or_else(|| panic!("the block has no '{what}' step"))
    };
    let order = [
        "case open",
        "case set",
        "assess",
        "--accept",
        "contain",
        "cnil_notification",
        "notify_authority",
        "case show",
        "audit verify",
    ];
    for pair in order.windows(2) {
        assert!(
            at(pair[0]) < at(pair[1]),
            "'{}' before '{}'",
            pair[0],
            pair[1]
        );
    }

    let v = Vigie::new();
    set_up_in_the_browser(&v, &org);

    // `vigie` in the block is the binary under test on this database; everything else
    // (quotes, `$(date ...)`, trailing comments) is the shell's, as for a reader.
    let bin = v.command().get_program().to_owned();
    let exports: Vec<&String> = lines.iter().filter(|l| l.starts_with("export ")).collect();
    for (i, c) in commands.iter().enumerate() {
        let mut script =
            String::from("vigie() { \"$README_VIGIE\" --db \"$README_DB\" \"$@\"; }\n");
        for e in &exports {
            script.push_str(e);
            script.push('\n');
        }
        script.push_str(c);
        script.push('\n');
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(v.dir())
            .env("README_VIGIE", &bin)
            .env("README_DB", v.db_arg())
            .env_remove("VIGIE_DB")
            .env_remove("VIGIE_CONFIG")
            .env_remove("VIGIE_ORG")
            .env_remove("VIGIE_NOW_OFFSET")
            .env_remove("VIGIE_NOW")
            .env("VIGIE_ACTOR", "readme")
            .output()
            .expect("bash runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "README step {} failed: {c}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            i + 1
        );
        if c.contains("audit verify") {
            assert!(stdout.contains("intact"), "{stdout}");
        }
    }

    // The case the block worked on is in the organisation the web setup made.
    let cases = v.json(&["--org", &org, "case", "list", "--all", "--json"]);
    assert_eq!(cases.as_array().map(|a| a.len()), Some(1), "{cases:#}");
}
