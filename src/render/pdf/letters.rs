//! Print-ready letters for a window envelope: the address checked against the window,
//! and letters gathered into one PDF for a mailing house.

use super::flow::Flow;
use super::fonts::{FALLBACK_FONTS, Face, text_width, unprintable};
use super::layout::Item;
use super::{
    A4_W, ADDRESS_LINE, ADDRESS_MAX_LINES, ADDRESS_SIZE, ADDRESS_TOP, ADDRESS_WIDTH, ADDRESS_X,
    BODY, Footer, LEADING, LEFT, MM, PdfError, RIGHT, TOP, WINDOW_MM, emit, finish, new_document,
};
use crate::time::Lang;
use krilla::Document;

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
    pub(super) doc: Document,
    pub(super) pages: usize,
    pub(super) footer: Footer,
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
