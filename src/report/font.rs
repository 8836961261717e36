//! The one font every plot uses, embedded in the binary (DejaVu Sans,
//! `assets/fonts/`, free to redistribute: see `assets/fonts/DejaVu-LICENSE`),
//! so PNGs get their text without any system font.

use plotters::style::FontStyle;
use std::sync::Once;

/// The family name plots ask for.
pub const FAMILY: &str = "sans-serif";

/// DejaVu Sans, as bytes.
static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

/// Registers the embedded font under [`FAMILY`] (once per process).
pub fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The bytes are a valid TTF (checked by the report test).
            let _ = plotters::style::register_font(FAMILY, style, DEJAVU_SANS);
        }
    });
}
