//! Markdown laid out down A4 pages: headings, paragraphs, lists, tables, and the lines
//! a letter places itself.

use super::fonts::{Face, face};
use super::layout::{Item, Line, Span, wrap};
use super::{BODY, BOTTOM, INDENT, LEADING, TOP};
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Pages being filled from top to bottom.
pub(super) struct Flow {
    pub(super) pages: Vec<Vec<Item>>,
    pub(super) y: f32,
    pub(super) top: f32,
}

impl Flow {
    pub(super) fn new(first_top: f32) -> Flow {
        Flow {
            pages: vec![Vec::new()],
            y: first_top,
            top: TOP,
        }
    }

    pub(super) fn page(&mut self) -> &mut Vec<Item> {
        self.pages.last_mut().expect("a page")
    }

    /// Starts a new page unless `h` more points fit on this one.
    pub(super) fn ensure(&mut self, h: f32) {
        if self.y + h > BOTTOM && self.y > self.top {
            self.pages.push(Vec::new());
            self.y = self.top;
        }
    }

    pub(super) fn gap(&mut self, h: f32) {
        if self.y > self.top {
            self.y += h;
        }
    }

    pub(super) fn line(&mut self, x: f32, line: &Line, size: f32) {
        let lh = size * LEADING;
        self.ensure(lh);
        let baseline = self.y + size * 0.95;
        let mut x = x;
        for (f, t) in line {
            let w = face(*f).width(t, size);
            if !t.trim().is_empty() {
                self.page().push(Item::Text {
                    x,
                    y: baseline,
                    face: *f,
                    size,
                    text: t.clone(),
                });
            }
            x += w;
        }
        self.y += lh;
    }

    pub(super) fn rule(&mut self, x1: f32, x2: f32, width: f32) {
        let y = self.y;
        self.page().push(Item::Rule {
            x1,
            y1: y,
            x2,
            y2: y,
            width,
        });
    }

    /// A paragraph: its lines from `x`, `width` wide, with an optional marker (a bullet
    /// or a number) hanging to the left of the first line.
    pub(super) fn paragraph(
        &mut self,
        spans: &[Span],
        size: f32,
        x: f32,
        width: f32,
        marker: Option<&str>,
    ) {
        let lines = wrap(spans, size, width);
        for (i, l) in lines.iter().enumerate() {
            if i == 0
                && let Some(m) = marker
            {
                self.ensure(size * LEADING);
                let mw = face(Face::Regular).width(m, size);
                let baseline = self.y + size * 0.95;
                self.page().push(Item::Text {
                    x: x - mw - 4.0,
                    y: baseline,
                    face: Face::Regular,
                    size,
                    text: m.to_string(),
                });
            }
            self.line(x, l, size);
        }
    }

    pub(super) fn table(
        &mut self,
        rows: &[Vec<Vec<Span>>],
        header_rows: usize,
        x: f32,
        width: f32,
    ) {
        let n = rows.iter().map(Vec::len).max().unwrap_or(0);
        if n == 0 {
            return;
        }
        let size = BODY - 1.0;
        let pad = 3.0;
        // Natural width (no wrapping) and the widest word, per column.
        let mut natural = vec![0.0f32; n];
        let mut least = vec![0.0f32; n];
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let f = |s: &Span| if r < header_rows { Face::Bold } else { s.face };
                let w: f32 = cell.iter().map(|s| face(f(s)).width(&s.text, size)).sum();
                natural[c] = natural[c].max(w + 2.0 * pad);
                for s in cell {
                    for word in s.text.split_whitespace() {
                        least[c] = least[c].max(face(f(s)).width(word, size) + 2.0 * pad);
                    }
                }
            }
        }
        let total: f32 = natural.iter().sum();
        let floor: f32 = least.iter().sum();
        let widths: Vec<f32> = if total <= width {
            natural.clone()
        } else if floor >= width {
            least.iter().map(|w| w * width / floor).collect()
        } else {
            // Every column its widest word, the rest shared by how much more each wants.
            let want: f32 = natural.iter().zip(&least).map(|(n, l)| n - l).sum();
            natural
                .iter()
                .zip(&least)
                .map(|(n, l)| l + (width - floor) * (n - l) / want.max(0.001))
                .collect()
        };
        let table_w: f32 = widths.iter().sum();
        let lh = size * LEADING;
        self.gap(2.0);
        self.ensure(lh + 2.0 * pad);
        self.rule(x, x + table_w, 0.6);
        for (r, row) in rows.iter().enumerate() {
            let cells: Vec<Vec<Line>> = (0..n)
                .map(|c| {
                    let spans: Vec<Span> = row
                        .get(c)
                        .map(|cell| {
                            cell.iter()
                                .map(|s| Span {
                                    face: if r < header_rows { Face::Bold } else { s.face },
                                    text: s.text.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    wrap(&spans, size, widths[c] - 2.0 * pad)
                })
                .collect();
            let height =
                cells.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32 * lh + 2.0 * pad;
            let before = self.pages.len();
            self.ensure(height);
            if self.pages.len() != before {
                self.rule(x, x + table_w, 0.6);
            }
            let top = self.y + pad;
            let mut cx = x;
            for (c, lines) in cells.iter().enumerate() {
                let mut y = top;
                for l in lines {
                    let mut lx = cx + pad;
                    for (f, t) in l {
                        let w = face(*f).width(t, size);
                        if !t.trim().is_empty() {
                            self.page().push(Item::Text {
                                x: lx,
                                y: y + size * 0.95,
                                face: *f,
                                size,
                                text: t.clone(),
                            });
                        }
                        lx += w;
                    }
                    y += lh;
                }
                cx += widths[c];
            }
            self.y += height;
            self.rule(x, x + table_w, if r + 1 == header_rows { 0.6 } else { 0.3 });
        }
        self.gap(6.0);
    }

    /// Lays out a markdown document from the current position.
    pub(super) fn markdown(&mut self, md: &str, x0: f32, width0: f32) {
        let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
        let mut spans: Vec<Span> = Vec::new();
        let mut bold = 0u32;
        let mut italic = 0u32;
        let mut quote = 0u32;
        let mut in_code = false;
        // Open lists: the next number, None for bullets.
        let mut lists: Vec<Option<u64>> = Vec::new();
        let mut marker: Option<String> = None;
        let mut heading: Option<HeadingLevel> = None;
        let mut table: Option<(Vec<Vec<Vec<Span>>>, usize)> = None;
        let mut row: Vec<Vec<Span>> = Vec::new();

        let indent =
            |lists: &Vec<Option<u64>>, quote: u32| (lists.len() as f32 + quote as f32) * INDENT;
        macro_rules! flush {
            () => {
                if spans.iter().any(|s| !s.text.trim().is_empty()) {
                    let ind = indent(&lists, quote);
                    self.paragraph(
                        &spans,
                        BODY,
                        x0 + ind,
                        width0 - ind,
                        marker.take().as_deref(),
                    );
                }
                spans.clear();
            };
        }
        for ev in Parser::new_ext(md, opts) {
            let f = Face::of(bold > 0 || heading.is_some(), italic > 0);
            match ev {
                Event::Start(Tag::Paragraph) => spans.clear(),
                Event::End(TagEnd::Paragraph) => {
                    flush!();
                    if lists.is_empty() {
                        self.gap(BODY * 0.6);
                    } else {
                        self.gap(BODY * 0.2);
                    }
                }
                Event::Start(Tag::Heading { level, .. }) => {
                    flush!();
                    heading = Some(level);
                }
                Event::End(TagEnd::Heading(level)) => {
                    let size = match level {
                        HeadingLevel::H1 => 16.0,
                        HeadingLevel::H2 => 13.0,
                        HeadingLevel::H3 => 11.5,
                        _ => BODY + 0.5,
                    };
                    self.gap(size * 0.6);
                    // A heading is kept with at least two lines of what follows.
                    self.ensure(size * LEADING + 2.0 * BODY * LEADING);
                    self.paragraph(&spans, size, x0, width0, None);
                    self.gap(size * 0.3);
                    spans.clear();
                    heading = None;
                }
                Event::Start(Tag::List(start)) => {
                    flush!();
                    lists.push(start);
                }
                Event::End(TagEnd::List(_)) => {
                    flush!();
                    lists.pop();
                    if lists.is_empty() {
                        self.gap(BODY * 0.5);
                    }
                }
                Event::Start(Tag::Item) => {
                    flush!();
                    marker = Some(match lists.last_mut() {
                        Some(Some(n)) => {
                            let m = format!("{n}.");
                            *n += 1;
                            m
                        }
                        _ => "•".to_string(),
                    });
                }
                Event::End(TagEnd::Item) => {
                    flush!();
                    marker = None;
                }
                Event::Start(Tag::BlockQuote(_)) => {
                    flush!();
                    quote += 1;
                }
                Event::End(TagEnd::BlockQuote(_)) => {
                    flush!();
                    quote = quote.saturating_sub(1);
                }
                Event::Start(Tag::CodeBlock(_)) => {
                    flush!();
                    in_code = true;
                }
                Event::End(TagEnd::CodeBlock) => {
                    flush!();
                    in_code = false;
                    self.gap(BODY * 0.6);
                }
                Event::Start(Tag::Strong) => bold += 1,
                Event::End(TagEnd::Strong) => bold = bold.saturating_sub(1),
                Event::Start(Tag::Emphasis) => italic += 1,
                Event::End(TagEnd::Emphasis) => italic = italic.saturating_sub(1),
                Event::Start(Tag::Table(_)) => {
                    flush!();
                    table = Some((Vec::new(), 0));
                }
                Event::End(TagEnd::TableHead) => {
                    if let Some((rows, head)) = table.as_mut() {
                        rows.push(std::mem::take(&mut row));
                        *head = rows.len();
                    }
                }
                Event::End(TagEnd::TableRow) => {
                    if let Some((rows, _)) = table.as_mut() {
                        rows.push(std::mem::take(&mut row));
                    }
                }
                Event::Start(Tag::TableCell) => spans.clear(),
                Event::End(TagEnd::TableCell) => row.push(std::mem::take(&mut spans)),
                Event::End(TagEnd::Table) => {
                    if let Some((rows, head)) = table.take() {
                        let ind = indent(&lists, quote);
                        self.table(&rows, head, x0 + ind, width0 - ind);
                    }
                }
                Event::Text(t) | Event::Code(t) => {
                    if in_code {
                        let mut first = true;
                        for l in t.split('\n') {
                            if !first {
                                spans.push(Span {
                                    face: f,
                                    text: "\n".into(),
                                });
                            }
                            first = false;
                            if !l.is_empty() {
                                spans.push(Span {
                                    face: f,
                                    text: l.to_string(),
                                });
                            }
                        }
                    } else {
                        spans.push(Span {
                            face: f,
                            text: t.into_string(),
                        });
                    }
                }
                Event::SoftBreak => spans.push(Span {
                    face: f,
                    text: " ".into(),
                }),
                Event::HardBreak => spans.push(Span {
                    face: f,
                    text: "\n".into(),
                }),
                Event::InlineHtml(h) | Event::Html(h)
                    if h.trim().to_ascii_lowercase().starts_with("<br") =>
                {
                    spans.push(Span {
                        face: f,
                        text: "\n".into(),
                    });
                }
                Event::Rule => {
                    flush!();
                    self.gap(4.0);
                    self.rule(x0, x0 + width0, 0.5);
                    self.gap(8.0);
                }
                Event::TaskListMarker(done) => spans.push(Span {
                    face: f,
                    text: if done { "☑ " } else { "☐ " }.into(),
                }),
                _ => {}
            }
        }
        flush!();
    }
}
