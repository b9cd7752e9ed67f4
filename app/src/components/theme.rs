//! Light and dark themes. The choice lives in a cookie so the server renders the right theme
//! at once; without a choice the system's preference applies. Works with JavaScript off
//! (the toggle is a form posting to `/theme`) and without a reload once hydrated.

use leptos::prelude::*;

pub const THEME_COOKIE: &str = "gatehouse_theme";

/// The theme chosen in the request's cookie, read while rendering on the server.
pub fn theme_from_request() -> Option<&'static str> {
    #[cfg(feature = "ssr")]
    {
        let parts = use_context::<http::request::Parts>()?;
        let cookies = parts.headers.get_all(http::header::COOKIE);
        for header in cookies.iter() {
            let Ok(text) = header.to_str() else { continue };
            if let Some(theme) = theme_from_cookie_header(text) {
                return Some(theme);
            }
        }
        None
    }
    #[cfg(not(feature = "ssr"))]
    {
        None
    }
}

/// Finds `gatehouse_theme=light|dark` in a `Cookie` header.
pub fn theme_from_cookie_header(header: &str) -> Option<&'static str> {
    header.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        (name == THEME_COOKIE).then_some(())?;
        match value {
            "dark" => Some("dark"),
            "light" => Some("light"),
            _ => None,
        }
    })
}

/// An island: the only part of the frame that runs in the browser.
#[island]
pub fn ThemeToggle() -> impl IntoView {
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        #[cfg(feature = "hydrate")]
        {
            ev.prevent_default();
            toggle_in_browser();
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = ev;
    };
    view! {
        <form method="post" action="/theme" class="theme-toggle" on:submit=on_submit>
            <button type="submit" class="icon-button" title="Switch between light and dark theme"
                aria-label="Switch between light and dark theme">
                <svg class="icon-moon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                    <path d="M21 12.8A9 9 0 1 1 11.2 3a7 7 0 0 0 9.8 9.8z" fill="currentColor"/>
                </svg>
                <svg class="icon-sun" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                    <circle cx="12" cy="12" r="4.5" fill="currentColor"/>
                    <path d="M12 1.5v3M12 19.5v3M1.5 12h3M19.5 12h3M4.6 4.6l2.1 2.1M17.3 17.3l2.1 2.1M4.6 19.4l2.1-2.1M17.3 6.7l2.1-2.1"
                        stroke="currentColor" stroke-width="2" stroke-linecap="round"/>
                </svg>
            </button>
        </form>
    }
}

#[cfg(feature = "hydrate")]
fn toggle_in_browser() {
    use wasm_bindgen::JsCast;
    let doc = document();
    let Some(root) = doc.document_element() else {
        return;
    };
    let current = root.get_attribute("data-theme").unwrap_or_else(|| {
        let dark = window()
            .match_media("(prefers-color-scheme: dark)")
            .ok()
            .flatten()
            .map(|m| m.matches())
            .unwrap_or(false);
        if dark { "dark" } else { "light" }.to_string()
    });
    let next = if current == "dark" { "light" } else { "dark" };
    let _ = root.set_attribute("data-theme", next);
    if let Ok(html) = doc.dyn_into::<web_sys::HtmlDocument>() {
        let _ = html.set_cookie(&format!(
            "{THEME_COOKIE}={next}; Path=/; Max-Age=31536000; SameSite=Lax"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_theme_among_other_cookies() {
        assert_eq!(
            theme_from_cookie_header("a=1; gatehouse_theme=dark; b=2"),
            Some("dark")
        );
        assert_eq!(
            theme_from_cookie_header("gatehouse_theme=light"),
            Some("light")
        );
        assert_eq!(theme_from_cookie_header("gatehouse_theme=neon"), None);
        assert_eq!(theme_from_cookie_header("other=dark"), None);
    }
}
