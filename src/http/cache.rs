//! What every response goes through last: a strong `ETag` with `304 Not Modified` for a
//! matching `If-None-Match`, and gzip when the client accepts it.
//!
//! The ETag is a 64-bit hash of the exact bytes of the identity representation; the gzip
//! representation has its own tag (the same with `-gzip`), as a strong validator must differ
//! between encodings. Streamed downloads (`Content-Disposition: attachment`) pass through
//! untouched: they are never held whole in memory.

use std::hash::{Hash, Hasher};
use warp::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use warp::hyper::body::to_bytes;
use warp::reply::Response;

/// Bodies smaller than this are not worth compressing.
const GZIP_MIN: usize = 1024;

/// A strong entity tag of `bytes`.
pub fn etag(bytes: &[u8]) -> String {
    // SipHash with fixed keys: stable for a given build, which is what a validator needs
    let mut h = std::hash::DefaultHasher::new();
    bytes.hash(&mut h);
    format!("\"{:016x}\"", h.finish())
}

fn with_suffix(tag: &str, suffix: &str) -> String {
    format!("{}{suffix}\"", tag.trim_end_matches('"'))
}

/// Whether `If-None-Match` lists `tag` (or `*`). Weak comparison, as RFC 9110 §13.1.2 asks
/// for this header: `W/"x"` matches `"x"`.
fn none_match(req: &HeaderMap, tags: &[&str]) -> bool {
    req.get_all(header::IF_NONE_MATCH).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .map(str::trim)
                .any(|t| t == "*" || tags.contains(&t.strip_prefix("W/").unwrap_or(t)))
        })
    })
}

/// Whether the client accepts gzip (`Accept-Encoding: gzip`, not with `q=0`).
fn accepts_gzip(req: &HeaderMap) -> bool {
    req.get_all(header::ACCEPT_ENCODING).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',').any(|part| {
                let mut it = part.split(';').map(str::trim);
                let coding = it.next().unwrap_or("");
                let q0 = it.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f64>().ok())
                        .is_some_and(|q| q == 0.0)
                });
                (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q0
            })
        })
    })
}

fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::fast(),
    );
    enc.write_all(bytes).ok()?;
    enc.finish().ok()
}

/// The methods a path answers, for the `Allow` header of a 405.
fn allowed_methods(path: &str) -> &'static str {
    match path {
        "/api/journeys" => "GET, HEAD, POST",
        p if p.starts_with("/api/journeys/")
            && (p.ends_with("/restrict") || p.ends_with("/unrestrict")) =>
        {
            "POST"
        }
        p if p.starts_with("/api/journeys/") && !p["/api/journeys/".len()..].contains('/') => {
            "GET, HEAD, PUT, DELETE"
        }
        p if p.starts_with("/api/review/") => "POST",
        // every GET is answered to HEAD too (without the body, see `server`)
        _ => "GET, HEAD",
    }
}

pub async fn finish(
    method: Method,
    path: warp::path::FullPath,
    req: HeaderMap,
    mut r: Response,
) -> Response {
    if r.status() == StatusCode::METHOD_NOT_ALLOWED {
        r.headers_mut().insert(
            header::ALLOW,
            HeaderValue::from_static(allowed_methods(path.as_str())),
        );
        return r;
    }
    let cacheable =
        (method == Method::GET || method == Method::HEAD) && r.status() == StatusCode::OK;
    let streamed = r.headers().contains_key(header::CONTENT_DISPOSITION);
    let compress = accepts_gzip(&req);
    if streamed || (!cacheable && !compress) {
        return r;
    }
    let bytes = match to_bytes(r.body_mut()).await {
        Ok(b) => b,
        Err(_) => return r,
    };
    let h = r.headers_mut();
    let mut body: Vec<u8> = bytes.to_vec();
    if cacheable {
        let tag = etag(&body);
        let gz_tag = with_suffix(&tag, "-gzip");
        if none_match(&req, &[&tag, &gz_tag]) {
            let mut nm = Response::new(Vec::new().into());
            *nm.status_mut() = StatusCode::NOT_MODIFIED;
            let use_tag = if compress && body.len() >= GZIP_MIN {
                gz_tag
            } else {
                tag
            };
            if let Ok(v) = HeaderValue::from_str(&use_tag) {
                nm.headers_mut().insert(header::ETAG, v);
            }
            nm.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
            return nm;
        }
        if let Ok(v) = HeaderValue::from_str(&tag) {
            h.insert(header::ETAG, v);
        }
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if compress
        && body.len() >= GZIP_MIN
        && let Some(z) = gzip(&body)
    {
        body = z;
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        if let Some(t) = h
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|t| with_suffix(t, "-gzip"))
            && let Ok(v) = HeaderValue::from_str(&t)
        {
            h.insert(header::ETAG, v);
        }
    }
    h.remove(header::CONTENT_LENGTH);
    *r.body_mut() = body.into();
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn gzip_is_accepted_unless_refused() {
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "gzip, deflate, br"
        )])));
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "br;q=1.0, GZIP;q=0.5"
        )])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "identity")])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_lists_and_wildcards_match() {
        let t = etag(b"hello");
        assert_eq!(t, etag(b"hello"));
        assert_ne!(t, etag(b"hello!"));
        let h = |v: String| {
            let mut m = HeaderMap::new();
            m.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&v).unwrap());
            m
        };
        assert!(none_match(&h(format!("\"x\", {t}")), &[&t]));
        assert!(none_match(&h(format!("W/{t}")), &[&t]));
        assert!(none_match(&h("*".into()), &[&t]));
        assert!(!none_match(&h("\"x\"".into()), &[&t]));
        assert_eq!(with_suffix("\"ab\"", "-gzip"), "\"ab-gzip\"");
    }
}
