//! What is drawn on a page (text and rules), and inline text broken into lines of a
//! width.

use super::fonts::{Face, face};

/// One thing drawn on a page; y grows downwards from the top of the page.
#[derive(Clone, Debug)]
pub(super) enum Item {
    /// Text with its baseline at y.
    Text {
        x: f32,
        y: f32,
        face: Face,
        size: f32,
        text: String,
    },
    Rule {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
    },
}

/// A piece of inline text in one face; "\n" alone is a forced line break.
#[derive(Clone, Debug)]
pub(super) struct Span {
    pub(super) face: Face,
    pub(super) text: String,
}

/// A laid-out line: runs of one face each.
pub(super) type Line = Vec<(Face, String)>;

#[cfg(test)]
pub(super) fn line_width(line: &Line, size: f32) -> f32 {
    line.iter().map(|(f, t)| face(*f).width(t, size)).sum()
}

fn push_run(line: &mut Line, f: Face, s: &str) {
    match line.last_mut() {
        Some((lf, t)) if *lf == f => t.push_str(s),
        _ => line.push((f, s.to_string())),
    }
}

/// Breaks spans into lines at most `width` wide, at spaces (a word wider than the line
/// is cut where it must be).
pub(super) fn wrap(spans: &[Span], size: f32, width: f32) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    let mut line: Line = Vec::new();
    let mut line_w = 0.0f32;
    // The word being gathered (it may change face midway) and the space before it.
    let mut word: Line = Vec::new();
    let mut word_w = 0.0f32;
    let mut space: Option<Face> = None;

    pub(super) fn place(
        lines: &mut Vec<Line>,
        line: &mut Line,
        line_w: &mut f32,
        word: &mut Line,
        word_w: &mut f32,
        space: &mut Option<Face>,
        size: f32,
        width: f32,
    ) {
        if word.is_empty() {
            return;
        }
        let space_w = space.map(|f| face(f).width(" ", size)).unwrap_or(0.0);
        if !line.is_empty() && *line_w + space_w + *word_w > width {
            lines.push(std::mem::take(line));
            *line_w = 0.0;
        } else if !line.is_empty()
            && let Some(f) = *space
        {
            push_run(line, f, " ");
            *line_w += space_w;
        }
        if *word_w > width {
            // Cut a word longer than a line, character by character.
            for (f, t) in word.drain(..) {
                for c in t.chars() {
                    let w = face(f).advance(c) * size;
                    if !line.is_empty() && *line_w + w > width {
                        lines.push(std::mem::take(line));
                        *line_w = 0.0;
                    }
                    let mut b = [0u8; 4];
                    push_run(line, f, c.encode_utf8(&mut b));
                    *line_w += w;
                }
            }
        } else {
            for (f, t) in word.drain(..) {
                push_run(line, f, &t);
            }
            *line_w += *word_w;
        }
        *word_w = 0.0;
        *space = None;
    }

    for span in spans {
        if span.text == "\n" {
            place(
                &mut lines,
                &mut line,
                &mut line_w,
                &mut word,
                &mut word_w,
                &mut space,
                size,
                width,
            );
            lines.push(std::mem::take(&mut line));
            line_w = 0.0;
            space = None;
            continue;
        }
        let mut rest = span.text.as_str();
        while !rest.is_empty() {
            let ws = rest.find(char::is_whitespace).unwrap_or(rest.len());
            if ws > 0 {
                let piece = &rest[..ws];
                word_w += face(span.face).width(piece, size);
                push_run(&mut word, span.face, piece);
                rest = &rest[ws..];
            }
            let non = rest
                .find(|c: char| !c.is_whitespace())
                .unwrap_or(rest.len());
            if non > 0 {
                place(
                    &mut lines,
                    &mut line,
                    &mut line_w,
                    &mut word,
                    &mut word_w,
                    &mut space,
                    size,
                    width,
                );
                if !line.is_empty() {
                    space = Some(span.face);
                }
                rest = &rest[non..];
            }
        }
    }
    place(
        &mut lines,
        &mut line,
        &mut line_w,
        &mut word,
        &mut word_w,
        &mut space,
        size,
        width,
    );
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
