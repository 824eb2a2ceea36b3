//! PDF: a markdown document laid out on A4 pages (drafts, the register), and print-ready
//! letters for a DL window envelope (`notify --channel letter --format pdf`).
//!
//! The font (DejaVu Sans, `assets/fonts/`, free licence beside it) is compiled in, so a
//! PDF is the same on every machine; krilla embeds the subset of glyphs used, with a
//! ToUnicode map, so the text is real text (search, copy, `pdftotext`). We place glyphs
//! ourselves (character map and advances, no shaping) for left-to-right text: enough for
//! Latin, Greek and Cyrillic, and several times faster than shaping every line.
//!
//! Issue 23, N4 (letters printed boxes):
//! - A character DejaVu Sans lacks (Chinese, Japanese, Korean, symbols) is printed with
//!   the first fallback face that has it: fonts read at run time from Debian's font
//!   packages ([`FALLBACK_FONTS`], or `VIGIE_PDF_FONTS`), so that the binary does not
//!   carry 20 MB of CJK glyphs. Only the glyphs used are embedded.
//! - A line holding right-to-left text (Hebrew, Arabic) is laid out by the Unicode
//!   bidirectional algorithm (`unicode-bidi`), and its right-to-left runs are shaped
//!   (`rustybuzz`: Arabic letters joined, marks placed), with each glyph mapped back to
//!   its characters so the text reads back in logical order.
//! - [`address_problem`] refuses an address holding a character no face prints: the
//!   letter is a rejected row, never a letter with boxes in the window.
//!
//! Output is deterministic: no random identifier, the creation date is the generation
//! time given by the caller, so the same input and time give the same bytes.

use crate::time::Lang;
use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use krilla::Document;
use krilla::geom::{PathBuilder, Point};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, GlyphId, KrillaGlyph};
use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use skrifa::MetadataProvider;
use std::ops::Range;
use std::sync::LazyLock;

/// Points per millimetre.
pub const MM: f32 = 72.0 / 25.4;
pub const A4_W: f32 = 210.0 * MM;
pub const A4_H: f32 = 297.0 * MM;
const LEFT: f32 = 25.0 * MM;
const RIGHT: f32 = 20.0 * MM;
const TOP: f32 = 20.0 * MM;
/// Text stops here; the footer sits below.
const BOTTOM: f32 = A4_H - 22.0 * MM;
const FOOTER_BASELINE: f32 = A4_H - 12.0 * MM;
const BODY: f32 = 10.0;
const LEADING: f32 = 1.35;
const INDENT: f32 = 14.0;

/// The address window of a DL (110 × 220 mm) envelope with the window on the right, as
/// French and Belgian window envelopes have it: a window about 100 mm wide and 45 mm high,
/// 20 mm from the envelope's right edge and about 45 to 50 mm from its top edge. On the A4
/// sheet folded in three, that is this rectangle, in millimetres from the sheet's top-left
/// corner (left, top, right, bottom). The address is kept a few millimetres inside it, as
/// the sheet moves a little in the envelope.
pub const WINDOW_MM: (f32, f32, f32, f32) = (90.0, 50.0, 190.0, 95.0);
/// Where the address lines go: inside the window with a margin.
const ADDRESS_X: f32 = 95.0 * MM;
const ADDRESS_TOP: f32 = 56.0 * MM;
const ADDRESS_WIDTH: f32 = 90.0 * MM;
const ADDRESS_SIZE: f32 = 10.0;
const ADDRESS_LINE: f32 = 12.0;
/// Postal rules allow six lines in the address block.
pub const ADDRESS_MAX_LINES: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("PDF: {0}")]
    Write(String),
}

/// What the foot of every page says: the case reference and when the document was
/// generated (stored in UTC, shown in the workflow's zone with its offset), and the page.
#[derive(Clone, Debug)]
pub struct Footer {
    pub reference: String,
    pub generated_at: DateTime<Utc>,
    pub zone: Tz,
    pub lang: Lang,
}

impl Footer {
    fn left(&self) -> String {
        let at = crate::time::short_in(self.generated_at, self.zone);
        match self.lang {
            Lang::Fr => format!("Dossier {} — généré le {at}", self.reference),
            Lang::En => format!("Case {} — generated {at}", self.reference),
            Lang::Nl => format!("Dossier {} — aangemaakt op {at}", self.reference),
        }
    }
}

fn page_label(lang: Lang, page: usize, pages: usize) -> String {
    match lang {
        Lang::Fr | Lang::En => format!("Page {page} / {pages}"),
        Lang::Nl => format!("Pagina {page} / {pages}"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Face {
    Regular = 0,
    Bold = 1,
    Italic = 2,
    BoldItalic = 3,
}

impl Face {
    fn of(bold: bool, italic: bool) -> Face {
        match (bold, italic) {
            (false, false) => Face::Regular,
            (true, false) => Face::Bold,
            (false, true) => Face::Italic,
            (true, true) => Face::BoldItalic,
        }
    }
}

const TABLE_CHARS: usize = 0x3000;

struct FaceData {
    font: Font,
    fref: skrifa::FontRef<'static>,
    /// The font file and the face's index in it (for shaping).
    bytes: &'static [u8],
    index: u32,
    /// Glyph and advance (in em) of the first characters, looked up once.
    table: Vec<(u32, f32)>,
    upem: f32,
}

impl FaceData {
    fn load(bytes: &'static [u8]) -> FaceData {
        FaceData::try_load(bytes, 0).expect("the embedded font is valid")
    }

    /// Face `index` of a font file (a collection has several), if it can be read.
    fn try_load(bytes: &'static [u8], index: u32) -> Option<FaceData> {
        let font = Font::new(bytes.into(), index)?;
        let fref = skrifa::FontRef::from_index(bytes, index).ok()?;
        let upem = fref
            .metrics(
                skrifa::instance::Size::unscaled(),
                skrifa::instance::LocationRef::default(),
            )
            .units_per_em as f32;
        let mut face = FaceData {
            font,
            fref,
            bytes,
            index,
            table: Vec::new(),
            upem,
        };
        face.table = (0..TABLE_CHARS as u32)
            .map(|c| {
                char::from_u32(c)
                    .map(|c| face.lookup(c))
                    .unwrap_or((0, 0.0))
            })
            .collect();
        Some(face)
    }

    fn lookup(&self, c: char) -> (u32, f32) {
        let gid = self.fref.charmap().map(c).unwrap_or_default();
        let adv = self
            .fref
            .glyph_metrics(
                skrifa::instance::Size::unscaled(),
                skrifa::instance::LocationRef::default(),
            )
            .advance_width(gid)
            .unwrap_or(0.0);
        (gid.to_u32(), adv / self.upem)
    }

    fn glyph(&self, c: char) -> (u32, f32) {
        match self.table.get(c as usize) {
            Some(g) => *g,
            None => self.lookup(c),
        }
    }

    /// The advance of `c` (in em) as printed: by this face, or by the fallback face
    /// that prints it.
    fn advance(&self, c: char) -> f32 {
        let (gid, adv) = self.glyph(c);
        if gid != 0 || !needs_ink(c) {
            return adv;
        }
        fallback_for(c).map(|f| f.glyph(c).1).unwrap_or(adv)
    }

    fn width(&self, s: &str, size: f32) -> f32 {
        s.chars().map(|c| self.advance(c)).sum::<f32>() * size
    }
}

/// Fallback fonts, tried in this order for a character DejaVu Sans lacks, with the
/// Debian package that installs each (`.ci/run` installs the first). Licences:
/// Droid Sans Fallback, Apache 2.0; Nanum Gothic (Hangul, which Droid lacks), SIL OFL 1.1;
/// Noto Sans CJK and WenQuanYi Zen Hei, SIL OFL 1.1 and GPL 2 with font exception;
/// Symbola, free for any use.
pub const FALLBACK_FONTS: &[(&str, &str)] = &[
    (
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        "fonts-droid-fallback",
    ),
    (
        "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
        "fonts-nanum",
    ),
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "fonts-noto-cjk",
    ),
    (
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "fonts-wqy-zenhei",
    ),
    (
        "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",
        "fonts-symbola",
    ),
];

/// The fallback faces found on this machine: the files of `VIGIE_PDF_FONTS` (paths
/// separated by `:`) first, then [`FALLBACK_FONTS`]. Read once; missing ones are
/// skipped (a character only they print then makes [`address_problem`] refuse the row).
static FALLBACK: LazyLock<Vec<FaceData>> = LazyLock::new(|| {
    let mut paths: Vec<std::path::PathBuf> = std::env::var_os("VIGIE_PDF_FONTS")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    paths.extend(FALLBACK_FONTS.iter().map(|(p, _)| p.into()));
    paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter_map(|bytes| FaceData::try_load(Box::leak(bytes.into_boxed_slice()), 0))
        .collect()
});

/// Whether `c` puts ink on paper (spaces and controls need no glyph).
fn needs_ink(c: char) -> bool {
    !(c.is_whitespace()
        || c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'))
}

/// The first fallback face that prints `c`.
fn fallback_for(c: char) -> Option<&'static FaceData> {
    FALLBACK.iter().find(|f| f.glyph(c).0 != 0)
}

/// The face that prints `c` in style `f`: its own, else the first fallback that has it
/// (else its own, whose "missing" glyph [`address_problem`] keeps out of letters).
fn face_for(f: Face, c: char) -> &'static FaceData {
    let own = face(f);
    if own.glyph(c).0 != 0 || !needs_ink(c) {
        return own;
    }
    fallback_for(c).unwrap_or(own)
}

/// The first character of `s` that no face prints.
pub fn unprintable(s: &str) -> Option<char> {
    s.chars()
        .find(|&c| needs_ink(c) && face(Face::Regular).glyph(c).0 == 0 && fallback_for(c).is_none())
}

static FACES: LazyLock<[FaceData; 4]> = LazyLock::new(|| {
    [
        FaceData::load(include_bytes!("../../assets/fonts/DejaVuSans.ttf")),
        FaceData::load(include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf")),
        FaceData::load(include_bytes!("../../assets/fonts/DejaVuSans-Oblique.ttf")),
        FaceData::load(include_bytes!(
            "../../assets/fonts/DejaVuSans-BoldOblique.ttf"
        )),
    ]
});

fn face(f: Face) -> &'static FaceData {
    &FACES[f as usize]
}

/// Width of `s` in points in the regular face.
pub fn text_width(s: &str, size: f32) -> f32 {
    face(Face::Regular).width(s, size)
}

/// One thing drawn on a page; y grows downwards from the top of the page.
#[derive(Clone, Debug)]
enum Item {
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
struct Span {
    face: Face,
    text: String,
}

/// A laid-out line: runs of one face each.
type Line = Vec<(Face, String)>;

#[cfg(test)]
fn line_width(line: &Line, size: f32) -> f32 {
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
fn wrap(spans: &[Span], size: f32, width: f32) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    let mut line: Line = Vec::new();
    let mut line_w = 0.0f32;
    // The word being gathered (it may change face midway) and the space before it.
    let mut word: Line = Vec::new();
    let mut word_w = 0.0f32;
    let mut space: Option<Face> = None;

    fn place(
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

/// Pages being filled from top to bottom.
struct Flow {
    pages: Vec<Vec<Item>>,
    y: f32,
    top: f32,
}

impl Flow {
    fn new(first_top: f32) -> Flow {
        Flow {
            pages: vec![Vec::new()],
            y: first_top,
            top: TOP,
        }
    }

    fn page(&mut self) -> &mut Vec<Item> {
        self.pages.last_mut().expect("a page")
    }

    /// Starts a new page unless `h` more points fit on this one.
    fn ensure(&mut self, h: f32) {
        if self.y + h > BOTTOM && self.y > self.top {
            self.pages.push(Vec::new());
            self.y = self.top;
        }
    }

    fn gap(&mut self, h: f32) {
        if self.y > self.top {
            self.y += h;
        }
    }

    fn line(&mut self, x: f32, line: &Line, size: f32) {
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

    fn rule(&mut self, x1: f32, x2: f32, width: f32) {
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
    fn paragraph(&mut self, spans: &[Span], size: f32, x: f32, width: f32, marker: Option<&str>) {
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

    fn table(&mut self, rows: &[Vec<Vec<Span>>], header_rows: usize, x: f32, width: f32) {
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
    fn markdown(&mut self, md: &str, x0: f32, width0: f32) {
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

/// Whether a character is written right to left (Hebrew, Arabic, ...).
fn is_rtl(c: char) -> bool {
    use unicode_bidi::BidiClass::{AL, R, RLE, RLI, RLO};
    matches!(unicode_bidi::bidi_class(c), R | AL | RLE | RLO | RLI)
}

/// The runs of a line in the order they are drawn, left to right, each with whether it
/// is right to left. A line with no right-to-left character is one left-to-right run.
fn visual_runs(text: &str) -> Vec<(Range<usize>, bool)> {
    if !text.chars().any(is_rtl) {
        return vec![(0..text.len(), false)];
    }
    let info = unicode_bidi::BidiInfo::new(text, None);
    let mut out = Vec::new();
    for para in &info.paragraphs {
        let (levels, runs) = info.visual_runs(para, para.range.clone());
        for r in runs {
            let rtl = levels[r.start].is_rtl();
            out.push((r, rtl));
        }
    }
    out
}

/// The pieces of `text` each printed by one face, in logical order.
fn face_runs(f: Face, text: &str) -> Vec<(&'static FaceData, Range<usize>)> {
    let mut out: Vec<(&'static FaceData, Range<usize>)> = Vec::new();
    for (i, c) in text.char_indices() {
        let fd = face_for(f, c);
        match out.last_mut() {
            Some((last, r)) if std::ptr::eq(*last, fd) => r.end = i + c.len_utf8(),
            _ => out.push((fd, i..i + c.len_utf8())),
        }
    }
    out
}

/// A right-to-left piece shaped by rustybuzz, its glyphs in drawing order, each mapped
/// to the characters it stands for (its cluster) so the text reads back.
fn shaped(fd: &FaceData, text: &str) -> Vec<KrillaGlyph> {
    let Some(rb) = rustybuzz::Face::from_slice(fd.bytes, fd.index) else {
        return plain_glyphs(fd, text);
    };
    let mut buf = rustybuzz::UnicodeBuffer::new();
    buf.push_str(text);
    buf.set_direction(rustybuzz::Direction::RightToLeft);
    buf.guess_segment_properties();
    let out = rustybuzz::shape(&rb, &[], buf);
    let mut starts: Vec<usize> = out
        .glyph_infos()
        .iter()
        .map(|g| g.cluster as usize)
        .collect();
    starts.sort_unstable();
    starts.dedup();
    out.glyph_infos()
        .iter()
        .zip(out.glyph_positions())
        .map(|(g, p)| {
            let start = g.cluster as usize;
            let end = starts
                .iter()
                .copied()
                .find(|s| *s > start)
                .unwrap_or(text.len());
            KrillaGlyph {
                glyph_id: GlyphId::new(g.glyph_id),
                text_range: start..end,
                x_advance: p.x_advance as f32 / fd.upem,
                x_offset: p.x_offset as f32 / fd.upem,
                y_offset: p.y_offset as f32 / fd.upem,
                y_advance: 0.0,
                location: None,
            }
        })
        .collect()
}

/// Draws one line of text from `x` (its baseline at `y`): runs in bidirectional order,
/// each piece in the face that prints it.
fn draw_text(s: &mut krilla::surface::Surface, x: f32, y: f32, f: Face, size: f32, text: &str) {
    let mut x = x;
    for (run, rtl) in visual_runs(text) {
        let part = &text[run];
        let mut pieces = face_runs(f, part);
        if rtl {
            pieces.reverse();
        }
        for (fd, r) in pieces {
            let piece = &part[r];
            let g = if rtl {
                shaped(fd, piece)
            } else {
                plain_glyphs(fd, piece)
            };
            s.draw_glyphs(
                Point::from_xy(x, y),
                &g,
                fd.font.clone(),
                piece,
                size,
                false,
            );
            x += g.iter().map(|g| g.x_advance).sum::<f32>() * size;
        }
    }
}

/// One glyph per character, by the character map (no shaping).
fn plain_glyphs(fd: &FaceData, text: &str) -> Vec<KrillaGlyph> {
    text.char_indices()
        .map(|(i, c)| {
            let (gid, adv) = fd.glyph(c);
            KrillaGlyph {
                glyph_id: GlyphId::new(gid),
                text_range: i..i + c.len_utf8(),
                x_advance: adv,
                x_offset: 0.0,
                y_offset: 0.0,
                y_advance: 0.0,
                location: None,
            }
        })
        .collect()
}

fn a4() -> PageSettings {
    PageSettings::from_wh(A4_W, A4_H).expect("A4 is a valid size")
}

/// Draws laid-out pages into `doc`, each with its footer: `left` and "Page i / n".
fn emit(doc: &mut Document, pages: &[Vec<Item>], left: &str, lang: Lang) {
    let n = pages.len();
    for (i, items) in pages.iter().enumerate() {
        let mut page = doc.start_page_with(a4());
        let mut s = page.surface();
        s.set_fill(Some(Fill::default()));
        for item in items {
            match item {
                Item::Text {
                    x,
                    y,
                    face: f,
                    size,
                    text,
                } => draw_text(&mut s, *x, *y, *f, *size, text),
                Item::Rule {
                    x1,
                    y1,
                    x2,
                    y2,
                    width,
                } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x1, *y1);
                    pb.line_to(*x2, *y2);
                    if let Some(path) = pb.finish() {
                        s.set_fill(None);
                        s.set_stroke(Some(Stroke {
                            width: *width,
                            ..Stroke::default()
                        }));
                        s.draw_path(&path);
                        s.set_stroke(None);
                        s.set_fill(Some(Fill::default()));
                    }
                }
            }
        }
        let size = 8.0;
        if !left.is_empty() {
            draw_text(&mut s, LEFT, FOOTER_BASELINE, Face::Regular, size, left);
        }
        let right = page_label(lang, i + 1, n);
        let w = text_width(&right, size);
        draw_text(
            &mut s,
            A4_W - RIGHT - w,
            FOOTER_BASELINE,
            Face::Regular,
            size,
            &right,
        );
        s.finish();
        page.finish();
    }
}

fn new_document(at: DateTime<Utc>, title: Option<String>) -> Document {
    let mut doc = Document::new_with(krilla::SerializeSettings {
        enable_tagging: false,
        ..Default::default()
    });
    let date = krilla::metadata::DateTime::new(at.year().clamp(0, 9999) as u16)
        .month(at.month() as u8)
        .day(at.day() as u8)
        .hour(at.hour() as u8)
        .minute(at.minute() as u8)
        .second(at.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0);
    let mut meta = krilla::metadata::Metadata::new()
        .creation_date(date)
        .producer("vigie".to_string());
    if let Some(t) = title {
        meta = meta.title(t);
    }
    doc.set_metadata(meta);
    doc
}

fn finish(doc: Document) -> Result<Vec<u8>, PdfError> {
    doc.finish().map_err(|e| PdfError::Write(format!("{e:?}")))
}

/// A markdown document on A4 pages, with page numbers and `footer` on each page.
pub fn markdown_to_pdf(md: &str, footer: &Footer) -> Result<Vec<u8>, PdfError> {
    let mut flow = Flow::new(TOP);
    flow.markdown(md, LEFT, A4_W - LEFT - RIGHT);
    let title = md
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .map(|t| t.trim().to_string());
    let mut doc = new_document(footer.generated_at, title);
    emit(&mut doc, &flow.pages, &footer.left(), footer.lang);
    finish(doc)
}

/// Why an address cannot be printed in the envelope's window, if it cannot.
pub fn address_problem(lines: &[String]) -> Option<String> {
    let lines: Vec<&String> = lines.iter().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return Some("missing postal address".into());
    }
    if lines.len() > ADDRESS_MAX_LINES {
        return Some(format!(
            "the postal address has {} lines, more than the {ADDRESS_MAX_LINES} a window envelope takes",
            lines.len()
        ));
    }
    // Never a box in the window (issue 23, N4): the character is named by its code
    // point only, so that the reason holds no personal data.
    if let Some((i, c)) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| unprintable(l).map(|c| (i, c)))
    {
        return Some(format!(
            "line {} of the postal address has a character no font here can print \
             (U+{:04X}); install {} or name a font that has it in VIGIE_PDF_FONTS",
            i + 1,
            c as u32,
            FALLBACK_FONTS[0].1
        ));
    }
    if let Some(i) = lines
        .iter()
        .position(|l| text_width(l, ADDRESS_SIZE) > ADDRESS_WIDTH)
    {
        return Some(format!(
            "line {} of the postal address is too long for the envelope's window",
            i + 1
        ));
    }
    None
}

/// One letter for a window envelope.
pub struct LetterPage<'a> {
    /// The sender, top left (the organisation's name and address lines).
    pub sender: &'a [String],
    /// The address block, shown in the window (checked with `address_problem`).
    pub address: &'a [String],
    /// The date line, right under the window.
    pub date: &'a str,
    /// The letter itself, markdown.
    pub body: &'a str,
    /// The language of its page numbers and footer.
    pub lang: Lang,
}

/// Letters gathered into one PDF for a mailing house; each starts on a new page and
/// numbers its own pages.
pub struct LetterBatch {
    doc: Document,
    pages: usize,
    footer: Footer,
}

impl LetterBatch {
    /// Letters whose footer gives `footer` (in each letter's language).
    pub fn new(footer: Footer) -> LetterBatch {
        LetterBatch {
            doc: new_document(footer.generated_at, None),
            pages: 0,
            footer,
        }
    }

    /// Adds a letter; returns its first page (from 1) and its number of pages.
    pub fn add(&mut self, l: &LetterPage) -> (usize, usize) {
        let mut flow = Flow::new(TOP);
        for (i, s) in l.sender.iter().enumerate() {
            let f = if i == 0 { Face::Bold } else { Face::Regular };
            flow.line(
                LEFT,
                &vec![(f, s.clone())],
                if i == 0 { BODY + 1.0 } else { BODY - 1.0 },
            );
        }
        let mut y = ADDRESS_TOP;
        for a in l.address.iter().filter(|a| !a.trim().is_empty()) {
            flow.page().push(Item::Text {
                x: ADDRESS_X,
                y: y + ADDRESS_SIZE * 0.95,
                face: Face::Regular,
                size: ADDRESS_SIZE,
                text: a.clone(),
            });
            y += ADDRESS_LINE;
        }
        // The body starts under the window.
        flow.y = (WINDOW_MM.3 + 8.0) * MM;
        if !l.date.is_empty() {
            let w = text_width(l.date, BODY);
            let y = flow.y + BODY * 0.95;
            flow.page().push(Item::Text {
                x: A4_W - RIGHT - w,
                y,
                face: Face::Regular,
                size: BODY,
                text: l.date.to_string(),
            });
            flow.y += BODY * LEADING * 2.0;
        }
        flow.markdown(l.body, LEFT, A4_W - LEFT - RIGHT);
        let first = self.pages + 1;
        let n = flow.pages.len();
        let footer = Footer {
            lang: l.lang,
            ..self.footer.clone()
        };
        emit(&mut self.doc, &flow.pages, &footer.left(), l.lang);
        self.pages += n;
        (first, n)
    }

    pub fn pages(&self) -> usize {
        self.pages
    }

    pub fn finish(self) -> Result<Vec<u8>, PdfError> {
        finish(self.doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn footer() -> Footer {
        Footer {
            reference: "2026-001".into(),
            generated_at: "2026-11-28T09:30:00Z".parse().unwrap(),
            zone: chrono_tz::Europe::Paris,
            lang: Lang::Fr,
        }
    }

    #[test]
    fn wrapping_keeps_every_word_and_the_width() {
        let spans = vec![
            Span {
                face: Face::Regular,
                text: "Nous vous écrivons au sujet d'un incident de sécurité ".into(),
            },
            Span {
                face: Face::Bold,
                text: "très".into(),
            },
            Span {
                face: Face::Regular,
                text: ", pardon, grave qui touche vos données personnelles.".into(),
            },
        ];
        let lines = wrap(&spans, 10.0, 120.0);
        assert!(lines.len() > 2);
        for l in &lines {
            assert!(line_width(l, 10.0) <= 120.0 + 0.01, "{l:?}");
        }
        let joined: Vec<String> = lines
            .iter()
            .map(|l| l.iter().map(|(_, t)| t.as_str()).collect::<String>())
            .collect();
        assert_eq!(
            joined.join(" "),
            "Nous vous écrivons au sujet d'un incident de sécurité très, pardon, grave qui touche vos données personnelles."
        );
    }

    #[test]
    fn the_same_input_and_time_give_the_same_bytes() {
        let md = "# Titre\n\nUn paragraphe « accentué » à 12 €.\n\n- un\n- deux\n\n| a | b |\n|---|---|\n| 1 | 2 |\n";
        let a = markdown_to_pdf(md, &footer()).unwrap();
        let b = markdown_to_pdf(md, &footer()).unwrap();
        assert!(a.starts_with(b"%PDF-"));
        assert_eq!(a, b);
    }

    #[test]
    fn the_font_has_the_characters_of_the_drafts() {
        for c in "éèêàçôûëïÉ€«»’—–œŒ".chars() {
            assert_ne!(face(Face::Regular).glyph(c).0, 0, "{c}");
            assert_ne!(face(Face::Bold).glyph(c).0, 0, "{c}");
        }
    }

    #[test]
    fn addresses_that_do_not_fit_the_window_are_refused() {
        let ok: Vec<String> = vec![
            "Camille Martin".into(),
            "12 rue des Lilas".into(),
            "75011 Paris".into(),
        ];
        assert_eq!(address_problem(&ok), None);
        let long = vec!["x".repeat(80)];
        assert!(address_problem(&long).is_some());
        let many: Vec<String> = (0..7).map(|i| format!("line {i}")).collect();
        assert!(address_problem(&many).is_some());
    }
}
