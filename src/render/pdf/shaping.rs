//! Text drawn on a page: left-to-right runs placed glyph by glyph, right-to-left runs
//! (Hebrew, Arabic) ordered by the bidirectional algorithm and shaped.

use super::fonts::{Face, FaceData, face_for};
use krilla::geom::Point;
use krilla::text::{GlyphId, KrillaGlyph};
use std::ops::Range;

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
pub(super) fn draw_text(
    s: &mut krilla::surface::Surface,
    x: f32,
    y: f32,
    f: Face,
    size: f32,
    text: &str,
) {
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
