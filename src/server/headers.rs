//! Security headers on every response, API and web app alike.
//!
//! The web app has no inline script, no inline style and no event handler
//! attributes (the only script and stylesheet are `/static/loket.js` and
//! `/static/loket.css`), so the Content-Security-Policy allows nothing but
//! those: an injected `<script>` or `style` attribute does not run even if
//! escaping ever failed. `frame-ancestors 'none'` (and `X-Frame-Options`
//! for older browsers) stops clickjacking, `Referrer-Policy: no-referrer`
//! keeps loket's URLs (which hold ids) out of other sites' logs.
//!
//! Every response is `Cache-Control: no-store` unless its handler says
//! otherwise: pages, API answers and downloads hold care data, which must
//! not stay in a shared or browser cache. Only the static assets set their
//! own (`max-age`).

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

use super::AppState;

/// The policy for every response. `form-action 'self'`: a form cannot post
/// care data elsewhere; `base-uri 'none'`: relative URLs cannot be moved.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; \
frame-ancestors 'none'; base-uri 'none'";

/// Browser features loket never uses, denied to the page and anything in it.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), geolocation=(), \
gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()";

/// The headers and their values; `Cache-Control` only when the handler set
/// none.
pub const HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("permissions-policy", PERMISSIONS_POLICY),
    ("cross-origin-opener-policy", "same-origin"),
];

/// Adds the security headers to every response of `router`.
pub fn security(mut router: Router<AppState>) -> Router<AppState> {
    for (name, value) in HEADERS {
        router = router.layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ));
    }
    router.layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
}
