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
use krilla::geom::PathBuilder;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};

mod flow;
mod fonts;
mod layout;
mod letters;
mod shaping;

pub use fonts::{FALLBACK_FONTS, text_width, unprintable};
pub use letters::{LetterBatch, LetterPage, address_problem};

use flow::Flow;
use fonts::Face;
use layout::Item;
use shaping::draw_text;

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

#[cfg(test)]
mod tests {
    use super::fonts::face;
    use super::layout::{Span, line_width, wrap};
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
