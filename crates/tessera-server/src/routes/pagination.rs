//! DRF's `PageNumberPagination`: `?page=N`, and a body of `count`, absolute
//! `next` and `previous` links on the request's allowed host and scheme (keeping the other query parameters, dropping
//! `page` for the first page), and `results`.

use super::hosts::RequestOrigin;
use axum::http::StatusCode;
use serde_json::{json, Value};
use tessera_axum::ApiError;

/// DRF's message for a page that does not exist.
const INVALID_PAGE: &str = "Invalid page.";

fn invalid_page() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", INVALID_PAGE)
}

/// A requested page.
#[derive(Debug, Clone, Copy)]
pub(super) struct Page {
    number: u64,
    size: u64,
}

impl Page {
    /// The page `?page=` asks for (the first when absent).
    pub(super) fn requested(page: Option<&str>, size: u64) -> Result<Page, ApiError> {
        let number = match page {
            None | Some("") => 1,
            Some(p) => p
                .parse()
                .ok()
                .filter(|&p| p >= 1)
                .ok_or_else(invalid_page)?,
        };
        Ok(Page {
            number,
            size: size.max(1),
        })
    }

    /// Rows to skip.
    pub(super) fn offset(&self) -> u64 {
        (self.number - 1).saturating_mul(self.size)
    }

    /// Rows per page.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// The response body; a page past the last is DRF's 404.
    pub(super) fn body(
        &self,
        count: u64,
        results: Value,
        origin: &RequestOrigin,
        path: &str,
        params: &[(&str, Option<&str>)],
    ) -> Result<Value, ApiError> {
        let pages = count.div_ceil(self.size).max(1);
        if self.number > pages {
            return Err(invalid_page());
        }
        let link = |n: u64| link(origin, path, params, n);
        Ok(json!({
            "count": count,
            "next": (self.number < pages).then(|| link(self.number + 1)),
            "previous": (self.number > 1).then(|| link(self.number - 1)),
            "results": results,
        }))
    }
}

/// An absolute link on the request's own origin: its scheme and its host,
/// which the host check has allowed (never a `Host` an attacker chose).
fn link(origin: &RequestOrigin, path: &str, params: &[(&str, Option<&str>)], page: u64) -> String {
    let origin = &origin.0;
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if page > 1 {
        query.append_pair("page", &page.to_string());
    }
    for (name, value) in params {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    let query = query.finish();
    if query.is_empty() {
        format!("{origin}{path}")
    } else {
        format!("{origin}{path}?{query}")
    }
}
