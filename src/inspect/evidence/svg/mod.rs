//! Inline SVG for the HTML report: an offline map (local projection, no tiles, no
//! script) and an activity timeline. Every layer has an id and every mark a class,
//! so the report test can find them in the rendered DOM.

mod input;
mod layers;
mod legend;
mod map;
mod scale;
mod timeline;

pub(crate) use input::MapInput;
pub(crate) use map::render_map;
pub(crate) use timeline::render_timeline;

/// The head of a pseudonym, enough to tell rows apart.
fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}
