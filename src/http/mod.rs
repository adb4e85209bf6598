//! The HTTP layer (warp). Thin: parse the request, call the geography, render JSON.
//!
//! [`routes`] builds the whole filter tree from the shared state; `main` serves it and tests call
//! it in-process. Every error, including unknown paths and methods, is a JSON body
//! `{"code", "message"}` (see [`error::ApiError`]).

mod cache;
pub mod coords;
pub mod cql2;
pub mod crs;
pub mod endpoint;
pub mod error;
pub mod export;
pub mod guard;
mod handlers;
pub mod journeys;
pub mod layers;
pub mod ogc;
pub mod openapi;
pub mod pages;
pub mod params;
pub mod people;
pub mod queryables;
pub mod records;
pub mod server;
pub mod tiles;

use crate::geography::Geography;
pub use error::ApiError;
use std::convert::Infallible;
use std::sync::Arc;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection};

/// What every handler can see.
pub struct AppState {
    pub geo: Arc<Geography>,
    pub journeys: Arc<crate::ingest::Journeys>,
    /// the stations' rail-network neighbourhoods, for the hotspot statistic
    pub neighbourhoods: crate::layers::hotspots::Neighbourhoods,
    /// a point inside each force area, where flow lines start and end
    pub force_points: Vec<[f64; 2]>,
    /// layers cached per filter until new journeys arrive
    pub memos: layers::Memos,
    /// rendered aggregate answers, until the journeys change
    pub pages: pages::Pages,
    /// the built map page (`index.html` and `assets/`), if served
    pub web: Option<std::path::PathBuf>,
    /// sign-in, roles, disclosure control, audit, limits
    pub security: crate::access::Security,
    /// back-pressure and timeouts
    pub limits: Arc<Limits>,
    /// the protective marking of what the page prints (`serve --marking`), in `/api/whoami`
    pub marking: crate::access::marking::Marking,
    /// the journeys grouped by route for vector tiles, rebuilt when the journeys change
    pub tiles: tiles::RouteCache,
    /// the rail chains' vertices as GeoJSON text, built at the first journey page that needs it
    pub chain_text: std::sync::OnceLock<coords::ChainText>,
}

/// Back-pressure: at most `max_in_flight` requests at once (more get 503 at the door), at most
/// `workers` computations at once on the blocking pool (a request waits `queue_wait` for one,
/// then gets 503), and each computation answers within `timeout` or the client gets 503.
pub struct Limits {
    pub max_in_flight: usize,
    pub in_flight: Arc<std::sync::atomic::AtomicUsize>,
    pub workers: Arc<tokio::sync::Semaphore>,
    pub queue_wait: std::time::Duration,
    pub timeout: std::time::Duration,
    /// how long a cached layer may go on being served after new journeys arrive (0: never).
    /// Under a steady stream of writes this bounds recomputation to once per interval per
    /// filter instead of once per write.
    pub layer_staleness: std::time::Duration,
    /// connections: how many, and how long one may dawdle (see [`server`])
    pub conn: server::ConnLimits,
    /// most bytes of rendered pages kept (see [`pages`]); 0 keeps none
    pub page_cache_bytes: usize,
}

impl Limits {
    pub fn new(max_in_flight: usize, workers: usize, timeout: std::time::Duration) -> Limits {
        Limits {
            max_in_flight,
            in_flight: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            workers: Arc::new(tokio::sync::Semaphore::new(workers.max(1))),
            queue_wait: std::time::Duration::from_secs(10),
            timeout,
            layer_staleness: std::time::Duration::ZERO,
            conn: server::ConnLimits::default(),
            page_cache_bytes: 64 << 20,
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new(1024, 64, std::time::Duration::from_secs(60))
    }
}

/// Runs read work (CPU, or reading the store) on the blocking pool under [`Limits`]: 503
/// (`busy`, with `Retry-After`) when no worker frees up in time or the work overruns the
/// timeout. The work runs under a [`crate::cancel::Token`] cancelled when this future is
/// dropped (the client gone: hyper drops the handler of a closed connection, as when the map
/// drops a superseded filter's requests) or gives up at the timeout, so the work's long loops
/// stop at their next [`crate::cancel::check`] instead of holding a worker and a core for an
/// answer nobody reads. Work that changes state goes through [`offload_write`].
pub async fn offload<T: Send + 'static>(
    limits: Arc<Limits>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let token = crate::cancel::Token::new();
    let _cancel = token.cancel_on_drop();
    match run_blocking(limits, move || token.run(f)).await? {
        Ok(v) => Ok(v),
        // (only when the token was cancelled while this future still waited: not today)
        Err(crate::cancel::Cancelled) => Err(ApiError::Busy(
            "the request was cancelled; try again".into(),
        )),
    }
}

/// [`offload`] for work that changes state (a write, an erasure): it runs to its end whether
/// or not anyone waits for its answer, so that what it changes is changed whole.
pub async fn offload_write<T: Send + 'static>(
    limits: Arc<Limits>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    run_blocking(limits, f).await
}

async fn run_blocking<T: Send + 'static>(
    limits: Arc<Limits>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let permit =
        match tokio::time::timeout(limits.queue_wait, limits.workers.clone().acquire_owned()).await
        {
            Ok(Ok(p)) => p,
            _ => {
                return Err(ApiError::Busy(
                    "the server is busy (every worker is taken); try again shortly".into(),
                ));
            }
        };
    let job = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    });
    match tokio::time::timeout(limits.timeout, job).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ApiError::Internal(format!("a worker failed: {e}"))),
        Err(_) => Err(ApiError::Busy(format!(
            "the request took longer than {} s; narrow it (a smaller box or date range) or try again",
            limits.timeout.as_secs()
        ))),
    }
}

impl AppState {
    /// The layer service over this state's journeys (see [`crate::layers::service`]).
    pub fn layers(&self) -> crate::layers::service::Layers<'_> {
        crate::layers::service::Layers {
            journeys: &self.journeys,
            neighbourhoods: &self.neighbourhoods,
            memos: &self.memos,
            stale_ok: self.limits.layer_staleness,
            disclosure: &self.security.disclosure,
        }
    }

    /// The state over a set of journeys; works out the stations' neighbourhoods along the
    /// track once (well under a second for GB).
    pub fn new(journeys: Arc<crate::ingest::Journeys>) -> Arc<AppState> {
        Self::with_web(journeys, None)
    }

    /// The same, serving the map page from `web` (a built `web/dist`). Open to every request
    /// as `admin` ([`crate::access::Security::open_for_tests`]): for tests and embedding.
    pub fn with_web(
        journeys: Arc<crate::ingest::Journeys>,
        web: Option<std::path::PathBuf>,
    ) -> Arc<AppState> {
        Self::with_security(journeys, web, crate::access::Security::open_for_tests())
    }

    /// The state with its access settings and default [`Limits`].
    pub fn with_security(
        journeys: Arc<crate::ingest::Journeys>,
        web: Option<std::path::PathBuf>,
        security: crate::access::Security,
    ) -> Arc<AppState> {
        Self::with_limits(journeys, web, security, Limits::default())
    }

    /// The state with access settings and limits, and the default protective marking.
    pub fn with_limits(
        journeys: Arc<crate::ingest::Journeys>,
        web: Option<std::path::PathBuf>,
        security: crate::access::Security,
        limits: Limits,
    ) -> Arc<AppState> {
        Self::with_marking(journeys, web, security, limits, Default::default())
    }

    /// The state with access settings, limits and the protective marking: what `serve` uses.
    pub fn with_marking(
        journeys: Arc<crate::ingest::Journeys>,
        web: Option<std::path::PathBuf>,
        security: crate::access::Security,
        limits: Limits,
        marking: crate::access::marking::Marking,
    ) -> Arc<AppState> {
        let geo = journeys.geography().clone();
        Arc::new(AppState {
            security,
            pages: pages::Pages::new(limits.page_cache_bytes),
            limits: Arc::new(limits),
            neighbourhoods: crate::layers::hotspots::Neighbourhoods::build(&geo),
            force_points: crate::layers::force_points(&geo),
            memos: layers::Memos::default(),
            tiles: tiles::RouteCache::default(),
            chain_text: std::sync::OnceLock::new(),
            web,
            marking,
            geo,
            journeys,
        })
    }
}

/// The raw query string, or "" when there is none.
fn raw_query() -> impl Filter<Extract = (String,), Error = Infallible> + Clone {
    warp::query::raw().or(warp::any().map(String::new)).unify()
}

fn with_state(
    state: Arc<AppState>,
) -> impl Filter<Extract = (Arc<AppState>,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// A file of the built map page under `assets/` (hashed names from the bundler: cached for a
/// year). Paths are resolved inside the folder only.
async fn web_asset(rel: &str, state: Arc<AppState>) -> Response {
    let Some(dir) = &state.web else {
        return ApiError::NotFound("no map page is served (start with --web web/dist)".into())
            .into_response();
    };
    if rel.is_empty()
        || rel
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == ".." || c.contains('\\'))
    {
        return ApiError::NotFound(format!("no asset \"{rel}\"")).into_response();
    }
    let path = dir.join("assets").join(rel);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let ct = match path.extension().and_then(|e| e.to_str()) {
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                Some("json") => "application/json",
                Some("woff2") => "font/woff2",
                // the map's label glyphs (web/scripts/glyphs.mjs)
                Some("pbf") => "application/x-protobuf",
                _ => "application/octet-stream",
            };
            let mut r = Response::new(bytes.into());
            r.headers_mut().insert(
                warp::http::header::CONTENT_TYPE,
                warp::http::HeaderValue::from_static(ct),
            );
            r.headers_mut().insert(
                warp::http::header::CACHE_CONTROL,
                warp::http::HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            r
        }
        Err(_) => ApiError::NotFound(format!("no asset \"{rel}\"")).into_response(),
    }
}

/// The answer of the operation the endpoint table resolved the request to (404 for a path it
/// does not know, 405 with `Allow` for a method the path does not answer). The `match` is over
/// every [`endpoint::Endpoint`], so a new entry in the table does not compile without its
/// handler.
async fn dispatch<S, B>(
    ctx: &guard::Ctx,
    headers: warp::http::HeaderMap,
    body: S,
    state: Arc<AppState>,
) -> Response
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: warp::hyper::body::Buf,
{
    use endpoint::Endpoint as E;
    let route = &ctx.route;
    let Some(entry) = route.entry else {
        return match &route.allow {
            Some(allow) => {
                let mut r = ApiError::MethodNotAllowed.into_response();
                if let Ok(v) = warp::http::HeaderValue::from_str(allow) {
                    r.headers_mut().insert(warp::http::header::ALLOW, v);
                }
                r
            }
            None => ApiError::NotFound("no such resource".into()).into_response(),
        };
    };
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let raw = ctx.query.clone();
    let who = guard::Who(ctx.principal.clone());
    let param = |i: usize| route.param(i).to_string();
    let st = state;
    let answer: Result<Response, ApiError> = match entry.endpoint {
        E::Landing => ogc::landing(raw, text("host"), text("accept"), who, st).await,
        E::Asset => Ok(web_asset(route.param(0), st).await),
        E::Conformance => ogc::conformance(raw),
        E::OpenApi => params::Params::parse(&raw, &["f"]).map(|_| {
            let mut r = Response::new(openapi::served(&st.geo).into());
            r.headers_mut().insert(
                warp::http::header::CONTENT_TYPE,
                warp::http::HeaderValue::from_static(ogc::OPENAPI_TYPE),
            );
            r
        }),
        E::Health => handlers::health(raw, who, st),
        E::Collections => ogc::collections(raw, text("host"), who, st),
        E::Collection => ogc::one_collection(param(0), raw, text("host"), who, st),
        E::Queryables => ogc::queryables(param(0), raw, text("host"), st),
        E::Items => ogc::items(param(0), raw, text("host"), who, st).await,
        E::Item => ogc::item(param(0), param(1), raw, text("host"), who, st).await,
        E::Ingest => journeys::post_stream(headers, body, raw, st).await,
        E::Journeys => journeys::list(raw, who, st).await,
        E::Journey => journeys::get_one(param(0), raw, who, st),
        E::Erase => journeys::erase(param(0), text("x-justification"), who, st).await,
        E::Rectify => {
            let why = text("x-justification");
            records::rectify(param(0), why, headers, body, who, st).await
        }
        E::Versions => records::versions(param(0), raw, st).await,
        E::Restrict | E::Unrestrict => {
            let on = entry.endpoint == E::Restrict;
            journeys::restriction(param(0), on, text("x-justification"), who, st).await
        }
        E::Locate => handlers::locate(raw, st),
        E::Route => handlers::route(raw, st).await,
        E::Station => handlers::station(param(0), raw, who, st),
        E::Hotspots => layers::hotspots_api(raw, text("accept"), who, st).await,
        E::Emerging => layers::emerging_api(raw, who, st).await,
        E::Flows => layers::flows_api(raw, text("accept"), who, st).await,
        E::Corridors => layers::corridors_api(raw, text("accept"), who, st).await,
        E::Trends => layers::trends_api(raw, text("accept"), who, st).await,
        E::Treatment => people::treatment_api(raw, text("accept"), who, st).await,
        E::Clock => layers::clock_api(raw, who, st).await,
        E::People => people::people_api(raw, who, st).await,
        E::Person => people::person_api(param(0), raw, who, st).await,
        E::Export => export::export(raw, who, st).await,
        E::WhoAmI => params::Params::parse(&raw, &[]).map(|_| guard::whoami(who, st)),
        E::Vocabulary => params::Params::parse(&raw, &[]).map(|_| handlers::vocabulary()),
        E::AuthConfig => params::Params::parse(&raw, &[]).map(|_| guard::auth_config(st)),
        E::Review => records::review_list(raw, st).await,
        E::ReviewDecision => {
            let why = text("x-justification");
            records::review_decide(param(0), why, headers, body, who, st).await
        }
        E::Audit => handlers::audit(raw, st).await,
        E::TileMatrixSets => tiles::tile_matrix_sets(raw, text("host")),
        E::TileMatrixSet => tiles::tile_matrix_set(raw, text("host")),
        E::Tilesets => tiles::tilesets(param(0), raw, text("host"), st),
        E::Tileset => tiles::tileset(param(0), raw, text("host"), st),
        E::Tile => {
            let zxy = [param(1), param(2), param(3)];
            tiles::tile(param(0), zxy, raw, who, st).await
        }
    };
    answer.unwrap_or_else(ApiError::into_response)
}

/// All routes of the server: the gate (sign-in, role, limits), then the operation the
/// endpoint table names, then disclosure control and the audit entry; refusals at the gate
/// become JSON errors like any other.
pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = Rejection> + Clone {
    let guarded = warp::method()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(raw_query())
        .and(server::remote())
        .and(with_state(state.clone()))
        .and_then(guard::gate)
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and(with_state(state.clone()))
        .then(
            |ctx: guard::Ctx, headers, body, state: Arc<AppState>| async move {
                // a rendered aggregate the same caller class asked for since the journeys
                // last changed (never an audited answer: see `pages`)
                let version = state.journeys.index().version();
                let key = state
                    .pages
                    .key(&ctx.route, ctx.principal.as_ref(), &ctx.query, &headers);
                if let Some(k) = &key
                    && let Some(r) = state.pages.get(k, version, state.limits.layer_staleness)
                {
                    return r;
                }
                let reads_journeys = ctx
                    .principal
                    .as_ref()
                    .is_some_and(|p| p.role >= crate::access::Role::BtpPlanner);
                let r = dispatch(&ctx, headers, body, state.clone()).await;
                // an aggregate over fewer than k journeys is audited for a role that may read
                // journeys (`guard::after`): computed and logged every time, never kept
                let small = r
                    .extensions()
                    .get::<layers::Selection>()
                    .is_some_and(|s| s.0 < state.security.disclosure.k as usize);
                let r = guard::after(ctx, state.clone(), r).await;
                match key {
                    Some(k) if !(small && reads_journeys) => state.pages.keep(k, version, r).await,
                    _ => r,
                }
            },
        )
        .recover(|err: Rejection| async move {
            match err.find::<guard::Denied>() {
                Some(guard::Denied(e)) => Ok::<_, Infallible>(e.response()),
                None => handle_rejection(err).await,
            }
        })
        .unify();
    let tls = state.security.tls;
    let sso_origin = state
        .security
        .oidc
        .as_ref()
        .and_then(|o| o.page())
        .and_then(|p| crate::access::oidc::origin(&p.token_endpoint).ok());
    let csp = guard::content_security_policy(sso_origin.as_deref());
    let base: BoxedFilter<(Response,)> = warp::method()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(guarded)
        .then(
            move |m: warp::http::Method, path: warp::path::FullPath, h, r| {
                let csp = csp.clone();
                async move {
                    let public = endpoint::is_public(m.as_str(), path.as_str());
                    let mut r = cache::finish(m, h, r).await;
                    guard::security_headers(&mut r, public, tls, &csp);
                    r
                }
            },
        )
        .boxed();
    let origins = &state.security.cors_origins;
    let out: BoxedFilter<(Response,)> = if origins.is_empty() {
        base
    } else {
        base.with(cors(origins))
            .map(warp::Reply::into_response)
            .recover(|err: Rejection| async move {
                Ok::<_, Infallible>(
                    ApiError::Forbidden(format!("cross-origin request refused: {err:?}"))
                        .into_response(),
                )
            })
            .unify()
            .boxed()
    };
    out.with(warp::log("linesmap::http"))
}

/// CORS for the configured origins (`--cors-origin`); with none, no CORS headers at all.
fn cors(origins: &[String]) -> warp::filters::cors::Builder {
    warp::cors()
        .allow_methods(["GET", "HEAD", "POST", "OPTIONS"])
        .allow_headers([
            "authorization",
            "content-type",
            "x-justification",
            "if-none-match",
        ])
        .expose_headers([
            "etag",
            "content-crs",
            "x-disclosure-control",
            "x-record-count",
        ])
        .allow_origins(origins.iter().map(String::as_str))
}

/// Turns warp's rejections (no such path, wrong method…) into JSON errors.
async fn handle_rejection(err: Rejection) -> Result<warp::reply::Response, Infallible> {
    let e = if err.is_not_found() {
        ApiError::NotFound("no such resource".into())
    } else if err.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::MethodNotAllowed
    } else if let Some(e) = err.find::<warp::reject::InvalidQuery>() {
        ApiError::BadRequest(e.to_string())
    } else if err.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::PayloadTooLarge(format!(
            "the request body is larger than the limit of {} bytes (16 MiB): split the batch",
            journeys::MAX_BODY
        ))
    } else if err.find::<warp::reject::LengthRequired>().is_some() {
        let mut r =
            ApiError::BadRequest("a Content-Length header is required".into()).into_response();
        *r.status_mut() = StatusCode::LENGTH_REQUIRED;
        return Ok(r);
    } else if let Some(e) = err.find::<warp::reject::MissingHeader>() {
        ApiError::BadRequest(e.to_string())
    } else if let Some(e) = err.find::<warp::reject::InvalidHeader>() {
        ApiError::BadRequest(e.to_string())
    } else {
        ApiError::Internal(format!("unhandled rejection: {err:?}"))
    };
    Ok(e.into_response())
}

pub use server::{ServerFuture, bind};

/// A JSON reply with a given content type.
pub(crate) fn json_reply(
    value: &impl serde::Serialize,
    content_type: &'static str,
) -> warp::reply::Response {
    match serde_json::to_vec(value) {
        Ok(body) => {
            let mut r = warp::reply::Response::new(body.into());
            r.headers_mut().insert(
                warp::http::header::CONTENT_TYPE,
                warp::http::HeaderValue::from_static(content_type),
            );
            r
        }
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
    }
}

/// Rounds a coordinate to 1e-7 degrees (about 1 cm), keeping responses short.
pub(crate) fn round7(v: f64) -> f64 {
    (v * 1e7).round() / 1e7
}

/// Rounds metres to the centimetre.
pub(crate) fn round_m(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
