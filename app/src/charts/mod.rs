//! Charts: plotters SVG renderers, `fn(&Data) -> String`, drawn on the server.
//!
//! Plotters writes fixed colours. Each chart draws with the sentinel colours below and
//! `style/main.css` maps them (`.chart [stroke="#0A0B01"]`) to the theme's variables, so one
//! SVG is crisp in the light and the dark theme. Hover titles are added as invisible circles
//! with `<title>` over each point.

pub mod calibration;
pub mod duration;
pub mod health;

use plotters::style::RGBColor;

/// Axes and labels (the theme's muted text colour).
pub const INK: RGBColor = RGBColor(0x0A, 0x0B, 0x01);
/// Grid lines (the theme's border colour).
pub const GRID: RGBColor = RGBColor(0x0A, 0x0B, 0x02);
/// The main series (the theme's accent).
pub const SERIES: RGBColor = RGBColor(0x0A, 0x0B, 0x03);
pub const GOOD: RGBColor = RGBColor(0x0A, 0x0B, 0x04);
pub const WARN: RGBColor = RGBColor(0x0A, 0x0B, 0x05);
pub const BAD: RGBColor = RGBColor(0x0A, 0x0B, 0x06);
pub const MUTED: RGBColor = RGBColor(0x0A, 0x0B, 0x07);

/// A point the reader can hover: its position in the SVG and the text shown.
pub struct Hit {
    pub x: i32,
    pub y: i32,
    pub title: String,
}

/// Escapes text for SVG/HTML content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Makes plotters' SVG fit the page: scales with its container (keeping the aspect ratio),
/// carries a class and an accessible label, and gets a hover target with a title per point.
pub fn finish(svg: String, class: &str, label: &str, hits: &[Hit]) -> String {
    let mut svg = svg.replacen(
        "<svg ",
        &format!(
            "<svg class=\"chart {class}\" role=\"img\" aria-label=\"{}\" preserveAspectRatio=\"xMidYMid meet\" ",
            escape(label)
        ),
        1,
    );
    // Drop the fixed size: CSS sets the width, the viewBox keeps the proportions.
    remove_attribute(&mut svg, "width");
    remove_attribute(&mut svg, "height");
    let mut layer = String::from("<g class=\"hits\">");
    for h in hits {
        layer.push_str(&format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"7\"><title>{}</title></circle>",
            h.x,
            h.y,
            escape(&h.title)
        ));
    }
    layer.push_str("</g></svg>");
    match svg.rfind("</svg>") {
        Some(end) => svg.replace_range(end.., &layer),
        None => svg.push_str(&layer),
    }
    svg
}

/// Removes the first ` name="…"` from `svg` (the root element's, as plotters writes it first).
fn remove_attribute(svg: &mut String, name: &str) {
    let open = format!(" {name}=\"");
    if let Some(at) = svg.find(&open) {
        if let Some(len) = svg[at + open.len()..].find('"') {
            svg.replace_range(at..at + open.len() + len + 1, "");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_drops_the_fixed_size_and_adds_titles() {
        let svg = "<svg width=\"600\" height=\"200\" viewBox=\"0 0 600 200\" xmlns=\"http://www.w3.org/2000/svg\">\n<line/>\n</svg>\n".to_string();
        let out = finish(
            svg,
            "durations",
            "Durations <of> x",
            &[Hit {
                x: 3,
                y: 4,
                title: "a & b".into(),
            }],
        );
        assert!(out.starts_with(
            "<svg class=\"chart durations\" role=\"img\" aria-label=\"Durations &lt;of&gt; x\""
        ));
        assert!(!out.contains("width=\"600\""), "{out}");
        assert!(!out.contains("height=\"200\""), "{out}");
        assert!(out.contains("viewBox=\"0 0 600 200\""));
        assert!(out.contains(
            "<circle cx=\"3\" cy=\"4\" r=\"7\"><title>a &amp; b</title></circle></g></svg>"
        ));
        assert_eq!(out.matches("</svg>").count(), 1);
    }
}
