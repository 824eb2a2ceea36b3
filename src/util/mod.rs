//! Small helpers shared by the edges, below every other module: quoting what a user
//! typed, one-line messages, private files, and the one door to the YAML parser.

pub mod email;
pub mod hash;
pub mod yaml;

/// Whether every backend can store (and look up) this text: PostgreSQL's `text` refuses
/// U+0000, which SQLite would keep. Input holding it is refused before any query, so
/// both backends answer alike and a SQLite database always copies to PostgreSQL.
pub fn storable(s: &str) -> bool {
    !s.contains('\0')
}

/// ", did you mean 'x'?" when a known name is close to the unknown one.
pub fn did_you_mean<'k>(unknown: &str, known: impl Iterator<Item = &'k String>) -> String {
    let best = known
        .map(|k| (strsim(unknown, k), k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, k)) => format!(", did you mean '{k}'?"),
        None => String::new(),
    }
}

/// Levenshtein distance, for "did you mean" hints.
pub fn strsim(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Characters that are not controls but still change how a line reads: the bidi
/// overrides, embeddings, isolates and marks (U+202E turns `exe.txt` into `txt.exe`),
/// and the line and paragraph separators (U+2028, U+2029), which break a line in an
/// editor or a log viewer. A message shows them escaped, like a control.
pub fn deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

fn escaped(c: char) -> bool {
    c.is_control() || deceptive(c)
}

fn push_escaped(out: &mut String, c: char) {
    if c.is_control() {
        out.extend(c.escape_debug());
    } else {
        out.push_str(&format!("\\u{{{:x}}}", c as u32));
    }
}

/// A value the user typed, echoed in a message: in single quotes, with control
/// characters, backslashes and quotes escaped as Rust writes them (`\n`, `\u{1b}`), so
/// a message stays on one line and a terminal shows what was typed instead of obeying
/// it.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '"' => out.push('"'),
            c if deceptive(c) => push_escaped(&mut out, c),
            c => out.extend(c.escape_debug()),
        }
    }
    out.push('\'');
    out
}

/// What the command line prints for people, safe for a terminal: line breaks, carriage
/// returns and tabs stay (tables, drafts, CSV), every other control character (escape
/// sequences, C1 controls) is shown escaped. A fact typed by one user with an escape
/// sequence in it can then never clear or rewrite another user's terminal.
pub fn terminal_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() && !matches!(c, '\n' | '\r' | '\t');
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The last guard before a line is printed: every control character (line breaks, tab,
/// escape sequences, C1 controls) escaped visibly, so one message is one line whatever
/// it carries.
pub fn one_line(s: &str) -> String {
    if !s.chars().any(escaped) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if escaped(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Files that hold personal data (the database, `.eml` files, letters, `rejects.csv`,
/// `refused.csv`) are created readable by their owner only (0600), and the folders
/// vigie creates for them 0700, whatever the umask. A folder that already exists keeps
/// its mode: it is the administrator's.
pub mod private {
    use std::fs::{File, OpenOptions};
    use std::io::Write as _;
    use std::path::Path;

    /// `create_dir_all`, each folder it creates 0700.
    pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
        let mut b = std::fs::DirBuilder::new();
        b.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
        b.create(dir)
    }

    /// A new file (or one emptied), 0600.
    pub fn create(path: &Path) -> std::io::Result<File> {
        let mut o = OpenOptions::new();
        o.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
        let f = o.open(path)?;
        // A file that existed keeps its mode on open: make it private too.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            if f.metadata()?.permissions().mode() & 0o077 != 0 {
                f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
        }
        Ok(f)
    }

    /// `std::fs::write`, the file 0600.
    pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
        create(path)?.write_all(bytes.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_and_printed_lines_hold_no_control_character() {
        assert_eq!(quote("fr-2026-0001"), "'fr-2026-0001'");
        assert_eq!(quote("a\nb"), "'a\\nb'");
        assert_eq!(quote("\u{1b}[31mred"), "'\\u{1b}[31mred'");
        assert_eq!(quote("l'été \"x\""), "'l\\'été \"x\"'");
        assert_eq!(
            one_line("a\r\nb\tc\u{7f}\u{85}é"),
            "a\\r\\nb\\tc\\u{7f}\\u{85}é"
        );
        assert_eq!(one_line("plain 'x'"), "plain 'x'");
        assert_eq!(one_line("a\u{202e}b\u{2028}c"), "a\\u{202e}b\\u{2028}c");
        assert_eq!(quote("x\u{202e}txt.exe"), "'x\\u{202e}txt.exe'");
        for s in [
            "\n", "\r", "\u{1b}", "\u{0}", "\u{9b}", "\u{202e}", "\u{2028}",
        ] {
            assert!(!one_line(s).chars().any(escaped));
            assert!(!quote(s).chars().any(escaped));
        }
    }
}
