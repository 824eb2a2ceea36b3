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
    let mut w = Wrapper {
        lines: Vec::new(),
        line: Vec::new(),
        line_w: 0.0,
        word: Vec::new(),
        word_w: 0.0,
        space: None,
        size,
        width,
    };
    for span in spans {
        if span.text == "\n" {
            w.place();
            w.lines.push(std::mem::take(&mut w.line));
            w.line_w = 0.0;
            w.space = None;
            continue;
        }
        let mut rest = span.text.as_str();
        while !rest.is_empty() {
            let ws = rest.find(char::is_whitespace).unwrap_or(rest.len());
            if ws > 0 {
                let piece = &rest[..ws];
                w.word_w += face(span.face).width(piece, size);
                push_run(&mut w.word, span.face, piece);
                rest = &rest[ws..];
            }
            let non = rest
                .find(|c: char| !c.is_whitespace())
                .unwrap_or(rest.len());
            if non > 0 {
                w.place();
                if !w.line.is_empty() {
                    w.space = Some(span.face);
                }
                rest = &rest[non..];
            }
        }
    }
    w.place();
    if !w.line.is_empty() {
        w.lines.push(w.line);
    }
    w.lines
}

/// Line breaking's state: the lines made, the line being filled and its width, the word
/// being gathered (it may change face midway) with its width, and the space before it.
struct Wrapper {
    lines: Vec<Line>,
    line: Line,
    line_w: f32,
    word: Line,
    word_w: f32,
    space: Option<Face>,
    size: f32,
    width: f32,
}

impl Wrapper {
    /// Places the gathered word on the line, or on a new line when it does not fit; a
    /// word longer than a line is cut character by character.
    fn place(&mut self) {
        let (size, width) = (self.size, self.width);
        if self.word.is_empty() {
            return;
        }
        let space_w = self.space.map(|f| face(f).width(" ", size)).unwrap_or(0.0);
        if !self.line.is_empty() && self.line_w + space_w + self.word_w > width {
            self.lines.push(std::mem::take(&mut self.line));
            self.line_w = 0.0;
        } else if !self.line.is_empty()
            && let Some(f) = self.space
        {
            push_run(&mut self.line, f, " ");
            self.line_w += space_w;
        }
        if self.word_w > width {
            for (f, t) in std::mem::take(&mut self.word) {
                for c in t.chars() {
                    let w = face(f).advance(c) * size;
                    if !self.line.is_empty() && self.line_w + w > width {
                        self.lines.push(std::mem::take(&mut self.line));
                        self.line_w = 0.0;
                    }
                    let mut b = [0u8; 4];
                    push_run(&mut self.line, f, c.encode_utf8(&mut b));
                    self.line_w += w;
                }
            }
        } else {
            for (f, t) in std::mem::take(&mut self.word) {
                push_run(&mut self.line, f, &t);
            }
            self.line_w += self.word_w;
        }
        self.word_w = 0.0;
        self.space = None;
    }
}
