//! Small helpers shared by the edges.

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

/// A message made one line for a terminal or a log: control characters a user typed
/// (newlines, ANSI escapes) are shown escaped, so an error stays one line and cannot
/// rewrite the screen.
pub fn one_line(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
