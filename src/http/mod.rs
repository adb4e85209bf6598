//! The HTTP layer (warp). Thin: parse the request, call the geography, render JSON.
//!
//! [`routes`] builds the whole filter tree from the shared state; `main` serves it and tests call
//! it in-process. Every error, including unknown paths and methods, is a JSON body
//! `{"code", "message"}` (see [`error::ApiError`]).

mod cache;
pub mod cql2;
pub mod crs;
pub mod error;
pub mod guard;
mod handlers;
pub mod journeys;
pub mod layers;
pub mod ogc;
pub mod openapi;
pub mod params;
pub mod people;
pub mod queryables;
pub mod server;

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
    /// the built map page (`index.html` and `assets/`), if served
    pub web: Option<std::path::PathBuf>,
    /// sign-in, roles, disclosure control, audit, limits
    pub security: crate::access::Security,
    /// back-pressure and timeouts
    pub limits: Arc<Limits>,
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
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::new(1024, 64, std::time::Duration::from_secs(60))
    }
}

/// Runs CPU or store work on the blocking pool under [`Limits`]: 503 (`busy`, with
/// `Retry-After`) when no worker frees up in time or the work overruns the timeout.
pub async fn offload<T: Send + 'static>(
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

    /// The state with access settings and limits: what `serve` uses.
    pub fn with_limits(
        journeys: Arc<crate::ingest::Journeys>,
        web: Option<std::path::PathBuf>,
        security: crate::access::Security,
        limits: Limits,
    ) -> Arc<AppState> {
        let geo = journeys.geography().clone();
        Arc::new(AppState {
            security,
            limits: Arc::new(limits),
            neighbourhoods: crate::layers::hotspots::Neighbourhoods::build(&geo),
            force_points: crate::layers::force_points(&geo),
            memos: layers::Memos::default(),
            web,
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

fn accept() -> impl Filter<Extract = (Option<String>,), Error = Rejection> + Clone {
    warp::header::optional::<String>("accept")
}

/// A file of the built map page under `assets/` (hashed names from the bundler: cached for a
/// year). Paths are resolved inside the folder only.
async fn web_asset(tail: warp::path::Tail, state: Arc<AppState>) -> Response {
    let Some(dir) = &state.web else {
        return ApiError::NotFound("no map page is served (start with --web web/dist)".into())
            .into_response();
    };
    let rel = tail.as_str();
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

/// All routes of the server.
pub fn routes(
    state: Arc<AppState>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = Rejection> + Clone {
    let health = warp::path!("health")
        .and(warp::get().or(warp::head()).unify())
        .and(raw_query())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .map(handlers::health)
        .boxed();
    let locate = warp::path!("api" / "locate")
        .and(warp::get())
        .and(raw_query())
        .and(with_state(state.clone()))
        .map(handlers::locate)
        .boxed();
    let route = warp::path!("api" / "route")
        .and(warp::get())
        .and(raw_query())
        .and(with_state(state.clone()))
        .then(handlers::route)
        .boxed();
    let station = warp::path!("api" / "stations" / String)
        .and(warp::get())
        .and(raw_query())
        .and(with_state(state.clone()))
        .map(handlers::station)
        .boxed();
    let post_journeys = warp::path!("api" / "journeys")
        .and(warp::post())
        .and(warp::header::headers_cloned())
        .and(warp::body::stream())
        .and(raw_query())
        .and(with_state(state.clone()))
        .then(journeys::post_stream)
        .boxed();
    let list_journeys = warp::path!("api" / "journeys")
        .and(warp::get())
        .and(raw_query())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(journeys::list)
        .boxed();
    let one_journey = warp::path!("api" / "journeys" / String)
        .and(warp::get())
        .and(raw_query())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .map(journeys::get_one)
        .boxed();
    let erase = warp::path!("api" / "journeys" / String)
        .and(warp::delete())
        .and(warp::header::optional::<String>("x-justification"))
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(journeys::erase)
        .boxed();
    let restrict = warp::path!("api" / "journeys" / String / "restrict")
        .and(warp::post())
        .map(|id| (id, true))
        .or(warp::path!("api" / "journeys" / String / "unrestrict")
            .and(warp::post())
            .map(|id| (id, false)))
        .unify()
        .and(warp::header::optional::<String>("x-justification"))
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(|(id, on), why, who, st| journeys::restriction(id, on, why, who, st))
        .boxed();
    let hotspots = warp::path!("api" / "hotspots")
        .and(warp::get())
        .and(raw_query())
        .and(accept())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(layers::hotspots_api)
        .boxed();
    let flows = warp::path!("api" / "flows")
        .and(warp::get())
        .and(raw_query())
        .and(accept())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(layers::flows_api)
        .boxed();
    let corridors = warp::path!("api" / "corridors")
        .and(warp::get())
        .and(raw_query())
        .and(accept())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(layers::corridors_api)
        .boxed();
    let trends = warp::path!("api" / "trends")
        .and(warp::get())
        .and(raw_query())
        .and(accept())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(layers::trends_api)
        .boxed();
    let treatment = warp::path!("api" / "treatment")
        .and(warp::get())
        .and(raw_query())
        .and(accept())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(people::treatment_api)
        .boxed();
    let people_list = warp::path!("api" / "people")
        .and(warp::get())
        .and(raw_query())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(people::people_api)
        .boxed();
    let one_person = warp::path!("api" / "people" / String)
        .and(warp::get())
        .and(raw_query())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(people::person_api)
        .boxed();
    let emerging = warp::path!("api" / "hotspots" / "emerging")
        .and(warp::get())
        .and(raw_query())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(layers::emerging_api)
        .boxed();
    let clock = warp::path!("api" / "clock")
        .and(warp::get())
        .and(raw_query())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(layers::clock_api)
        .boxed();
    let export = warp::path!("api" / "export")
        .and(warp::get())
        .and(raw_query())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(layers::export)
        .boxed();
    let whoami = warp::path!("api" / "whoami")
        .and(warp::get())
        .and(raw_query())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .map(
            |raw: String, who, state| match params::Params::parse(&raw, &[]) {
                Ok(_) => guard::whoami(who, state),
                Err(e) => e.into_response(),
            },
        )
        .boxed();
    let audit = warp::path!("api" / "audit")
        .and(warp::get())
        .and(raw_query())
        .and(with_state(state.clone()))
        .then(handlers::audit)
        .boxed();
    let host = || warp::header::optional::<String>("host");
    let landing = warp::path::end()
        .and(warp::get().or(warp::head()).unify())
        .and(raw_query())
        .and(host())
        .and(accept())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(ogc::landing)
        .boxed();
    let assets = warp::path("assets")
        .and(warp::get())
        .and(warp::path::tail())
        .and(with_state(state.clone()))
        .then(web_asset)
        .boxed();
    let conformance = warp::path!("conformance")
        .and(warp::get())
        .and(raw_query())
        .map(ogc::conformance)
        .boxed();
    let api_doc = warp::path!("openapi")
        .and(warp::get())
        .and(raw_query())
        .map(|raw: String| match params::Params::parse(&raw, &["f"]) {
            Ok(_) => {
                let mut r = warp::reply::Response::new(openapi::document().into());
                r.headers_mut().insert(
                    warp::http::header::CONTENT_TYPE,
                    warp::http::HeaderValue::from_static(ogc::OPENAPI_TYPE),
                );
                r
            }
            Err(e) => e.into_response(),
        })
        .boxed();
    let collections = warp::path!("collections")
        .and(warp::get())
        .and(raw_query())
        .and(host())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .map(ogc::collections)
        .boxed();
    let collection = warp::path!("collections" / String)
        .and(warp::get())
        .and(raw_query())
        .and(host())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .map(ogc::one_collection)
        .boxed();
    let items = warp::path!("collections" / String / "items")
        .and(warp::get())
        .and(raw_query())
        .and(host())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(ogc::items)
        .boxed();
    let queryables = warp::path!("collections" / String / "queryables")
        .and(warp::get())
        .and(raw_query())
        .and(host())
        .and(with_state(state.clone()))
        .map(ogc::queryables)
        .boxed();
    let item = warp::path!("collections" / String / "items" / String)
        .and(warp::get())
        .and(raw_query())
        .and(host())
        .and(guard::who(state.clone()))
        .and(with_state(state.clone()))
        .then(ogc::item)
        .boxed();
    // Each route is boxed and the chain is folded one box at a time: warp's nested `Or` types
    // otherwise grow with every route and compile times explode.
    let all: Vec<BoxedFilter<(Response,)>> = vec![
        landing,
        assets,
        conformance,
        api_doc,
        collections,
        collection,
        items,
        item,
        queryables,
        health,
        post_journeys,
        list_journeys,
        one_journey,
        restrict,
        erase,
        locate,
        route,
        station,
        hotspots,
        flows,
        corridors,
        trends,
        treatment,
        people_list,
        one_person,
        clock,
        emerging,
        export,
        whoami,
        audit,
    ];
    let mut it = all.into_iter();
    let first = it.next().expect("at least one route");
    let api = it.fold(first, |acc, r| acc.or(r).unify().boxed());
    let api = api.recover(handle_rejection).unify();
    // The gate first (sign-in, role, limits), then the route, then disclosure control and the
    // audit entry; refusals at the gate become JSON errors like any other.
    let guarded = warp::method()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(raw_query())
        .and(server::remote())
        .and(with_state(state.clone()))
        .and_then(guard::gate)
        .and(with_state(state.clone()))
        .and(api)
        .then(guard::after)
        .recover(|err: Rejection| async move {
            match err.find::<guard::Denied>() {
                Some(d) => Ok::<_, Infallible>(d.response()),
                None => handle_rejection(err).await,
            }
        })
        .unify();
    let tls = state.security.tls;
    let base: BoxedFilter<(Response,)> = warp::method()
        .and(warp::path::full())
        .and(warp::header::headers_cloned())
        .and(guarded)
        .then(
            move |m: warp::http::Method, path: warp::path::FullPath, h, r| async move {
                let public = crate::access::need(m.as_str(), path.as_str(), "")
                    == crate::access::Need::Public;
                let mut r = cache::finish(m, path, h, r).await;
                guard::security_headers(&mut r, public, tls);
                r
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
