//! The faces a PDF is printed with: DejaVu Sans compiled in, fallback faces read at
//! run time for the characters it lacks, their character maps and advances.

use krilla::text::Font;
use skrifa::MetadataProvider;
use std::sync::LazyLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Face {
    Regular = 0,
    Bold = 1,
    Italic = 2,
    BoldItalic = 3,
}

impl Face {
    pub(super) fn of(bold: bool, italic: bool) -> Face {
        match (bold, italic) {
            (false, false) => Face::Regular,
            (true, false) => Face::Bold,
            (false, true) => Face::Italic,
            (true, true) => Face::BoldItalic,
        }
    }
}

const TABLE_CHARS: usize = 0x3000;

pub(super) struct FaceData {
    pub(super) font: Font,
    pub(super) fref: skrifa::FontRef<'static>,
    /// The font file and the face's index in it (for shaping).
    pub(super) bytes: &'static [u8],
    pub(super) index: u32,
    /// Glyph and advance (in em) of the first characters, looked up once.
    pub(super) table: Vec<(u32, f32)>,
    pub(super) upem: f32,
}

impl FaceData {
    pub(super) fn load(bytes: &'static [u8]) -> FaceData {
        FaceData::try_load(bytes, 0).expect("the embedded font is valid")
    }

    /// Face `index` of a font file (a collection has several), if it can be read.
    pub(super) fn try_load(bytes: &'static [u8], index: u32) -> Option<FaceData> {
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

    pub(super) fn lookup(&self, c: char) -> (u32, f32) {
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

    pub(super) fn glyph(&self, c: char) -> (u32, f32) {
        match self.table.get(c as usize) {
            Some(g) => *g,
            None => self.lookup(c),
        }
    }

    /// The advance of `c` (in em) as printed: by this face, or by the fallback face
    /// that prints it.
    pub(super) fn advance(&self, c: char) -> f32 {
        let (gid, adv) = self.glyph(c);
        if gid != 0 || !needs_ink(c) {
            return adv;
        }
        fallback_for(c).map(|f| f.glyph(c).1).unwrap_or(adv)
    }

    pub(super) fn width(&self, s: &str, size: f32) -> f32 {
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
pub(super) fn face_for(f: Face, c: char) -> &'static FaceData {
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
        FaceData::load(include_bytes!("../../../assets/fonts/DejaVuSans.ttf")),
        FaceData::load(include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf")),
        FaceData::load(include_bytes!(
            "../../../assets/fonts/DejaVuSans-Oblique.ttf"
        )),
        FaceData::load(include_bytes!(
            "../../../assets/fonts/DejaVuSans-BoldOblique.ttf"
        )),
    ]
});

pub(super) fn face(f: Face) -> &'static FaceData {
    &FACES[f as usize]
}

/// Width of `s` in points in the regular face.
pub fn text_width(s: &str, size: f32) -> f32 {
    face(Face::Regular).width(s, size)
}
