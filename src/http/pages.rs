//! Rendered pages: an aggregate answer (a page of a collection, hotspots, flows, trends…) for
//! one request is rendered once into bytes, after disclosure control, with its ETag, and kept
//! until the journeys change; the gzip form is made the first time a client asks for it. A
//! repeat of the same request by a caller of the same role (and force) is then served from
//! memory: no selection, no JSON, no hashing.
//!
//! What is kept is bounded in bytes (`serve --page-cache-mib`, default 64): the oldest pages
//! go first. Answers that are audited are never kept (journey- and person-level reads,
//! exports, and an aggregate over fewer than k journeys read by a role that may read
//! journeys), so every audited answer is computed and logged each time.

use super::endpoint::Resolved;
use crate::access::Principal;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use warp::http::{HeaderMap, StatusCode, header};
use warp::hyper::body::{Bytes, to_bytes};
use warp::reply::Response;

/// Pages larger than this are not kept (a page of 1,000 journeys' routes is ~25 MiB).
const MAX_PAGE: usize = 8 << 20;

/// A rendered answer.
pub struct Page {
    headers: HeaderMap,
    body: Bytes,
    /// the strong ETag of `body`
    pub etag: String,
    gz: OnceLock<Option<Bytes>>,
    version: u64,
    at: Instant,
}

impl Page {
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The gzip form, made once.
    pub fn gzipped(&self) -> Option<&Bytes> {
        self.gz
            .get_or_init(|| super::cache::gzip(&self.body).map(Bytes::from))
            .as_ref()
    }

    fn response(self: &Arc<Page>) -> Response {
        let mut r = Response::new(self.body.clone().into());
        *r.headers_mut() = self.headers.clone();
        r.extensions_mut().insert(self.clone());
        r
    }

    fn weight(&self) -> usize {
        self.body.len() + 512
    }
}

#[derive(Default)]
struct Inner {
    pages: HashMap<String, Arc<Page>>,
    order: VecDeque<String>,
    bytes: usize,
}

/// The cache of rendered pages.
pub struct Pages {
    inner: Mutex<Inner>,
    /// most bytes kept
    pub capacity: usize,
}

impl Pages {
    pub fn new(capacity: usize) -> Pages {
        Pages {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    /// The key of a request whose answer may be kept, or `None`.
    pub fn key(
        &self,
        route: &Resolved,
        principal: Option<&Principal>,
        query: &str,
        headers: &HeaderMap,
    ) -> Option<String> {
        let entry = route.entry?;
        if self.capacity == 0
            || entry.verb != super::endpoint::Verb::Get
            || !route.aggregate()
            || route.journey_level()
            || route.person_level()
            || route.audit_action().is_some()
        {
            return None;
        }
        let text = |name| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        Some(format!(
            "{:?}\u{1f}{}\u{1f}{query}\u{1f}{:?}\u{1f}{:?}\u{1f}{}\u{1f}{}",
            entry.endpoint,
            route.params.join("\u{1e}"),
            principal.map(|p| p.role),
            principal.and_then(|p| p.force.as_deref()),
            text(header::HOST),
            text(header::ACCEPT),
        ))
    }

    /// The page kept for `key` at data `version`, or one kept at an older version less than
    /// `stale_ok` ago (as the layers' own memo allows).
    pub fn get(&self, key: &str, version: u64, stale_ok: Duration) -> Option<Response> {
        let g = self.inner.lock().ok()?;
        let p = g.pages.get(key)?;
        (p.version == version || p.at.elapsed() < stale_ok).then(|| p.response())
    }

    /// Keeps a successful answer (read whole) under `key` and gives it back; anything else
    /// passes through.
    pub async fn keep(&self, key: String, version: u64, mut r: Response) -> Response {
        if r.status() != StatusCode::OK
            || r.headers().contains_key(header::CONTENT_DISPOSITION)
            || r.headers().contains_key(header::CONTENT_ENCODING)
        {
            return r;
        }
        let body = match to_bytes(r.body_mut()).await {
            Ok(b) => b,
            Err(e) => {
                return super::ApiError::Internal(format!("cannot read the answer: {e}"))
                    .into_response();
            }
        };
        let page = Arc::new(Page {
            headers: r.headers().clone(),
            etag: super::cache::etag(&body),
            body,
            gz: OnceLock::new(),
            version,
            at: Instant::now(),
        });
        let out = page.response();
        if page.weight() <= MAX_PAGE.min(self.capacity)
            && let Ok(mut g) = self.inner.lock()
        {
            let g = &mut *g;
            if let Some(old) = g.pages.insert(key.clone(), page.clone()) {
                g.bytes -= old.weight();
                g.order.retain(|k| k != &key);
            }
            g.bytes += page.weight();
            g.order.push_back(key);
            while g.bytes > self.capacity
                && let Some(k) = g.order.pop_front()
            {
                if let Some(p) = g.pages.remove(&k) {
                    g.bytes -= p.weight();
                }
            }
        }
        out
    }

    /// Pages and bytes kept.
    pub fn usage(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|g| (g.pages.len(), g.bytes))
            .unwrap_or((0, 0))
    }
}

/// The kept page `r` was made from, if any (for `cache::finish`: its ETag and gzip form).
pub fn kept(r: &Response) -> Option<Arc<Page>> {
    r.extensions().get::<Arc<Page>>().cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_oldest_pages_go_first_and_the_bytes_kept_stay_within_the_capacity() {
        // each page weighs its 1,000 bytes and 512 for its key and headers
        let pages = Pages::new(3 * 1512);
        for i in 0..5 {
            let r = Response::new(vec![b'x'; 1000].into());
            let out = pages.keep(format!("k{i}"), 7, r).await;
            assert_eq!(to_bytes(out.into_body()).await.unwrap().len(), 1000);
        }
        assert_eq!(pages.usage(), (3, 3 * 1512));
        let at = |k: &str, v: u64, stale: Duration| pages.get(k, v, stale).is_some();
        assert!(!at("k0", 7, Duration::ZERO) && !at("k1", 7, Duration::ZERO));
        assert!(at("k2", 7, Duration::ZERO) && at("k4", 7, Duration::ZERO));
        // another data version: not served, unless staleness is allowed
        assert!(!at("k4", 8, Duration::ZERO));
        assert!(at("k4", 8, Duration::from_secs(60)));
        // a page over the capacity is passed through, not kept
        let big = Response::new(vec![b'y'; 5000].into());
        pages.keep("big".into(), 7, big).await;
        assert_eq!(pages.usage().0, 3);
        assert!(!at("big", 7, Duration::ZERO));
    }
}
