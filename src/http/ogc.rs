//! OGC API – Features, Part 1 (Core, GeoJSON, OAS 3.0) and Part 2 (CRS by reference): the
//! landing page, conformance, collections and their items, for GIS clients (QGIS and GDAL's
//! OAPIF driver, OWSLib).
//!
//! Collections: `stations` (footfall, and the journeys that start, end and pass there),
//! `forces` (journeys exported, imported and the net), `rail` (track sections with the journeys
//! along each), `journeys` (the mapped journeys), `hotspots` (stations ranked by Getis-Ord Gi*)
//! and `flows` (force → force). Every items request takes `bbox` (features whose geometry
//! intersects it; CRS84 unless `bbox-crs` says otherwise), `datetime` (an instant or an interval
//! with `..` for an open end, matched against journey dates: for the place layers it selects the
//! journeys counted), `limit` (1..10,000, default 10), `offset`, `crs` (the output CRS), and
//! the journey filters (`cross_border`, `exporting_force`, `importing_force`, `mode`,
//! `age_band`, `role`); `force` is the station's force for stations and hotspots and a force
//! the journey touches elsewhere. Any other query parameter is a 400, as the standard requires.

use super::cql2::{self, Expr, QType, Queryables, Scalar};
use super::crs::{self, Crs};
use super::error::ApiError;
use super::journeys::{
    FeatureCollectionOut, JourneyFeature, filter_from, force_param, with_offset,
};
use super::layers::{self as lay, HotspotSort, PlaceFilter, flow_id, hotspot_rows, section_stats};
use super::params::Params;
use super::{AppState, json_reply};
use crate::access::disclosure::Disclosure;
use crate::geography::{Bbox, ForceCode, StationCode};
use crate::journey::index::JourneyFilter;
use crate::journey::report::parse_date;
use crate::layers;
use crate::layers::key::{BboxKey, FilterKey};
use crate::layers::rows::{FlowRow, ForceRow, HotspotRow, SectionRow, StationRow};
use serde_json::{Value, json};
use std::sync::Arc;
use warp::reply::Response;

pub use super::crs::CRS84;
pub const OPENAPI_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";
const GEOJSON: &str = "application/geo+json";
const JSON: &str = "application/json";
const SCHEMA_JSON: &str = "application/schema+json";
pub const DEFAULT_LIMIT: i64 = 10;
pub const MAX_LIMIT: i64 = 10_000;

pub const CONFORMANCE: &[&str] = &[
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    // Part 3 filtering and CQL2 (see `cql2` for what is read)
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    // OGC API - Tiles (OGC 20-057), vector tiles of the collections (see `tiles`)
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tileset",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/tilesets-list",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/geodata-tilesets",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/datetime",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
];

/// The rel of a collection's link to its queryables (Part 3).
pub const QUERYABLES_REL: &str = "http://www.opengis.net/def/rel/ogc/1.0/queryables";
/// `filter-lang` values: CQL2 text (the default) and JSON, and the older names GDAL's OAPIF
/// driver looks for (read with the CQL2 grammars).
pub const FILTER_LANGS: &[&str] = &["cql2-text", "cql2-json", "cql-text", "cql-json"];

pub use crate::layers::collection::Collection;

pub(super) mod places;

/// Every collection, in the order `/collections` lists them.
pub const COLLECTIONS: &[Collection] = &Collection::ALL;

macro_rules! params {
    ($($own:literal),*) => {
        &[
            "bbox", "bbox-crs", "datetime", "limit", "offset", "f", "crs",
            "filter", "filter-lang", "filter-crs",
            "cross_border", "exporting_force", "importing_force", "mode", "age_band", "role",
            "line", "station", "hours", "days", $($own),*
        ]
    };
}

/// What the items of a collection take: its own filters, and every query parameter.
pub trait ItemParams {
    /// the collection's own filters
    fn filters(self) -> &'static [&'static str];
    /// every query parameter of its items but the queryables' ([`item_params`])
    fn params(self) -> &'static [&'static str];
}

impl ItemParams for Collection {
    fn filters(self) -> &'static [&'static str] {
        match self {
            Collection::Stations => &["code", "force"],
            Collection::Forces => &["code"],
            Collection::Rail | Collection::Journeys => &["force"],
            Collection::Hotspots => &[
                "force",
                "significant",
                "measure",
                "inference",
                "permutations",
                "seed",
            ],
            Collection::Flows => &["force", "origin_force", "destination_force", "direction"],
        }
    }

    fn params(self) -> &'static [&'static str] {
        match self {
            Collection::Stations => params!("code", "force"),
            Collection::Forces => params!("code"),
            Collection::Rail => params!("force"),
            Collection::Journeys => params!("force", "persons"),
            Collection::Hotspots => params!(
                "force",
                "significant",
                "measure",
                "inference",
                "permutations",
                "seed"
            ),
            Collection::Flows => params!("force", "origin_force", "destination_force", "direction"),
        }
    }
}

/// The collection a path names; an unknown id is a 404 listing the collections.
pub fn collection(id: &str) -> Result<Collection, ApiError> {
    Collection::parse(id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no collection \"{id}\"; collections are {}",
            COLLECTIONS
                .iter()
                .map(|c| c.id())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

fn base(host: &Option<String>) -> String {
    format!("http://{}", host.as_deref().unwrap_or("localhost"))
}

fn link(href: String, rel: &str, typ: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": typ, "title": title})
}

/// `/`: the map page for a browser (`Accept: text/html`, or `f=html`) when one is served, else
/// the OGC landing page (JSON; `f=json` forces it).
pub async fn landing(
    raw: String,
    host: Option<String>,
    accept: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    // the map page keeps its state in the query string: a shared link opens the page whatever
    // its parameters; only the JSON landing page checks them
    let f = form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "f")
        .map(|(_, v)| v.into_owned());
    let wants_html = match f.as_deref() {
        Some(f) => f == "html",
        None => accept.as_deref().is_some_and(|a| a.contains("text/html")),
    };
    if wants_html
        && let Some(dir) = &state.web
        && let Ok(page) = tokio::fs::read(dir.join("index.html")).await
    {
        let mut r = Response::new(page.into());
        r.headers_mut().insert(
            warp::http::header::CONTENT_TYPE,
            warp::http::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return Ok(r);
    }
    Params::parse_formats(&raw, &["f"], &["json", "html"])?;
    Ok(landing_json(&host, &who, &state))
}

fn landing_json(host: &Option<String>, who: &super::guard::Who, state: &AppState) -> Response {
    let b = base(host);
    let mut body = json!({
            "title": "linesmap",
            "description": "County-lines journeys across police force areas and the GB rail network (OGC API - Features). Demo journeys are SYNTHETIC.",
            "links": [
                link(format!("{b}/"), "self", JSON, "this document"),
                link(format!("{b}/openapi"), "service-desc", OPENAPI_TYPE, "the API definition (OpenAPI 3.0)"),
                link(format!("{b}/conformance"), "conformance", JSON, "conformance classes"),
                link(format!("{b}/collections"), "data", JSON, "the collections"),
                link(format!("{b}/tileMatrixSets"), super::tiles::TILING_SCHEMES_REL, JSON, "the tile matrix sets of the vector tiles"),
                link(format!("{b}/health"), "related", JSON, "health and data counts"),
                link(format!("{b}/api/locate?lon=-0.1335&lat=51.5282"), "related", JSON, "force and nearest stations of a point"),
                link(format!("{b}/api/route?from=LIV&to=BPN"), "related", GEOJSON, "rail route between stations"),
                link(format!("{b}/api/journeys"), "related", GEOJSON, "journeys (POST to add reports)"),
                link(format!("{b}/api/hotspots"), "related", GEOJSON, "station hotspots"),
                link(format!("{b}/api/flows"), "related", GEOJSON, "force to force flows"),
                link(format!("{b}/api/trends"), "related", JSON, "counts per month or week"),
            ],
    });
    if let Some(n) = super::handlers::total_journeys(who, state) {
        body["journeys"] = n;
    }
    json_reply(&body, JSON)
}

pub fn conformance(raw: String) -> Result<Response, ApiError> {
    Params::parse(&raw, &["f"]).map(|_| json_reply(&json!({"conformsTo": CONFORMANCE}), JSON))
}

/// A collection's extent. The temporal extent follows the journeys for callers who may read
/// them all (`data`); for anyone else it is the range reports may have (2000-01-01 onwards,
/// open-ended), which says nothing about which journeys exist.
fn extent(state: &AppState, c: Collection, data: bool) -> Value {
    use crate::layers::collection::Extent;
    let g = state.journeys.geography();
    let mut b = Bbox::EMPTY;
    match c.extent() {
        Extent::Stations => g.stations.stations().iter().for_each(|s| b.extend(s.pos())),
        Extent::Track => g.rail.chains().iter().for_each(|c| {
            b.extend([c.bbox.min_lon, c.bbox.min_lat]);
            b.extend([c.bbox.max_lon, c.bbox.max_lat]);
        }),
        Extent::Forces => g.forces.forces().iter().for_each(|f| {
            b.extend([f.bbox.min_lon, f.bbox.min_lat]);
            b.extend([f.bbox.max_lon, f.bbox.max_lat]);
        }),
    }
    let t = |d: Option<time::Date>| {
        d.map(|d| format!("{}T00:00:00Z", crate::journey::report::format_date(d)))
    };
    if !data {
        return json!({
            "spatial": {"bbox": [b.to_array()], "crs": CRS84},
            "temporal": {"interval": [[t(Some(crate::journey::report::EARLIEST_DATE)), Value::Null]], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"},
        });
    }
    let idx = state.journeys.index();
    let days = idx
        .all()
        .iter()
        .filter(|j| !idx.is_restricted(&j.report.report_id))
        .map(|j| j.report.journey.date);
    let (lo, hi) = days.fold(
        (None, None),
        |(lo, hi): (Option<time::Date>, Option<time::Date>), d| {
            (
                Some(lo.map_or(d, |l| l.min(d))),
                Some(hi.map_or(d, |h| h.max(d))),
            )
        },
    );
    json!({
        "spatial": {"bbox": [b.to_array()], "crs": CRS84},
        "temporal": {"interval": [[t(lo), t(hi)]], "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"},
    })
}

fn collection_json(state: &AppState, c: Collection, b: &str, data: bool) -> Value {
    let mut v = collection_base(state, c, b, data);
    if c.tiled()
        && let Some(links) = v["links"].as_array_mut()
    {
        links.push(link(
            format!("{b}/collections/{}/tiles", c.id()),
            super::tiles::TILESETS_VECTOR_REL,
            JSON,
            "vector tiles (Mapbox Vector Tiles in WebMercatorQuad)",
        ));
    }
    v
}

fn collection_base(state: &AppState, c: Collection, b: &str, data: bool) -> Value {
    json!({
        "id": c.id(),
        "title": c.title(),
        "description": c.description(),
        "itemType": "feature",
        "crs": crs::SUPPORTED,
        "storageCrs": CRS84,
        "extent": extent(state, c, data),
        "links": [
            link(format!("{b}/collections/{c}"), "self", JSON, c.title()),
            link(format!("{b}/collections/{c}/items"), "items", GEOJSON, "the features"),
            link(format!("{b}/collections/{c}/queryables"), QUERYABLES_REL, SCHEMA_JSON, "the properties a filter may name"),
            link(format!("{b}/api/export?collection={c}"), "enclosure", GEOJSON, "download all (GeoJSON)"),
        ],
    })
}

pub fn collections(
    raw: String,
    host: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    Params::parse(&raw, &["f"])?;
    let b = base(&host);
    let list: Vec<Value> = COLLECTIONS
        .iter()
        .map(|&c| collection_json(&state, c, &b, who.sees_all_journeys()))
        .collect();
    Ok(json_reply(
        &json!({
            "links": [link(format!("{b}/collections"), "self", JSON, "the collections")],
            "crs": crs::SUPPORTED,
            "collections": list,
        }),
        JSON,
    ))
}

pub fn one_collection(
    id: String,
    raw: String,
    host: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    Params::parse(&raw, &["f"])?;
    let c = collection(&id)?;
    // metadata, no counts of journeys: a viewer's is published as it is
    let body = collection_json(&state, c, &base(&host), who.sees_all_journeys());
    Ok(super::guard::published_as_is(who, &state, body, JSON))
}

/// `/collections/{id}/queryables`: the properties a `filter` may name (Part 3), as JSON Schema.
pub fn queryables(
    id: String,
    raw: String,
    host: Option<String>,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    Params::parse(&raw, &["f"])?;
    let c = collection(&id)?;
    let list = super::queryables::of(c, state.journeys.geography());
    let href = format!("{}/collections/{c}/queryables", base(&host));
    Ok(json_reply(
        &super::queryables::schema(c, &list, &href),
        SCHEMA_JSON,
    ))
}

/// Every query parameter a collection's items take: its own ([`Collection::params`]) and each
/// of its queryables with a simple value that is not already one of those
/// (`queryables-query-parameters`), kept for the server's life.
pub fn item_params(c: Collection) -> &'static [&'static str] {
    static ALL: std::sync::LazyLock<Vec<(Collection, &'static [&'static str])>> =
        std::sync::LazyLock::new(|| {
            COLLECTIONS
                .iter()
                .map(|&c| {
                    let mut v: Vec<&'static str> = c.params().to_vec();
                    v.extend(query_queryables(c, c.params()));
                    (c, &*Box::leak(v.into_boxed_slice()))
                })
                .collect()
        });
    ALL.iter()
        .find(|(id, _)| *id == c)
        .map_or(c.params(), |(_, v)| *v)
}

/// The queryables of collection `c` that are query parameters of their own: all but the
/// geometry and those whose name is already a parameter in `own` (which keep their meaning).
pub fn query_queryables(c: Collection, own: &[&str]) -> Vec<&'static str> {
    super::queryables::names(c)
        .iter()
        .copied()
        .filter(|n| *n != "geometry" && !own.contains(n))
        .collect()
}

/// A queryable given as a query parameter (`?mode=rail`), as the CQL2 term it stands for
/// (`mode = 'rail'`): the value read as the queryable's type.
fn query_term(name: &'static str, t: QType, v: &str) -> Result<Expr, ApiError> {
    let invalid = |message: String| ApiError::InvalidParameter { name, message };
    let value = match t {
        QType::String => Scalar::Str(v.to_string()),
        QType::Date => {
            // bounded as the date filters are (`from`, `to`)
            let d = crate::journey::report::parse_date(v)
                .ok_or_else(|| invalid(format!("\"{v}\" is not a date YYYY-MM-DD")))?;
            super::journeys::bounded_day(d).map_err(invalid)?;
            Scalar::Date(v.to_string())
        }
        QType::DateTime => {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .map_err(|_| invalid(format!("\"{v}\" is not an RFC 3339 date-time")))?;
            Scalar::Timestamp(v.to_string())
        }
        QType::Integer => Scalar::Num(
            v.parse::<i64>()
                .map_err(|_| invalid(format!("\"{v}\" is not a whole number")))? as f64,
        ),
        QType::Number => Scalar::Num(
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| invalid(format!("\"{v}\" is not a number")))?,
        ),
        QType::Boolean => Scalar::Bool(match v {
            "true" => true,
            "false" => false,
            _ => return Err(invalid(format!("\"{v}\" is not true or false"))),
        }),
        QType::Geometry => return Err(invalid("a geometry is filtered with S_INTERSECTS".into())),
    };
    Ok(Expr::Compare(
        cql2::CmpOp::Eq,
        Scalar::Property(name.to_string()),
        value,
    ))
}

/// `filter`, `filter-lang` and `filter-crs`, parsed and checked against collection `id`'s
/// queryables, ANDed with the queryables given as query parameters (those not in `own`, the
/// parameters with a meaning of their own); None when there is neither.
pub fn filter_param(
    id: Collection,
    own: &[&str],
    p: &Params,
    state: &AppState,
) -> Result<Option<Expr>, ApiError> {
    let lang = p.get("filter-lang").unwrap_or("cql2-text");
    if !FILTER_LANGS.contains(&lang) {
        return Err(ApiError::InvalidParameter {
            name: "filter-lang",
            message: format!("\"{lang}\" is not one of {}", FILTER_LANGS.join(", ")),
        });
    }
    let crs = p
        .get("filter-crs")
        .map(|s| {
            Crs::parse(s).map_err(|message| ApiError::InvalidParameter {
                name: "filter-crs",
                message,
            })
        })
        .transpose()?
        .unwrap_or(Crs::Crs84);
    let list = super::queryables::of(id, state.journeys.geography());
    let mut terms = Vec::new();
    if let Some(text) = p.get("filter") {
        let invalid = |e: cql2::CqlError| ApiError::InvalidParameter {
            name: "filter",
            message: e.to_string(),
        };
        let e = if lang.ends_with("json") {
            cql2::parse_json(text, crs)
        } else {
            cql2::parse_text(text, crs)
        }
        .map_err(invalid)?;
        cql2::check(&e, &list).map_err(invalid)?;
        terms.push(e);
    }
    for name in query_queryables(id, own) {
        let (Some(v), Some((t, _))) = (p.get(name), list.get(name)) else {
            continue;
        };
        let term = query_term(name, t, v)?;
        cql2::check(&term, &list).map_err(|e| ApiError::InvalidParameter {
            name,
            message: e.message,
        })?;
        terms.push(term);
    }
    Ok(match terms.len() {
        0 => None,
        1 => terms.pop(),
        _ => Some(Expr::And(terms)),
    })
}

/// Parses an OGC `datetime`: an instant (date or RFC 3339 date-time) or `start/end` with `..`
/// or an empty side for an open end; returns the inclusive day range.
pub fn parse_datetime(s: &str) -> Result<(Option<i32>, Option<i32>), String> {
    let one = |t: &str| -> Result<Option<i32>, String> {
        let t = t.trim();
        if t.is_empty() || t == ".." {
            return Ok(None);
        }
        let d = match parse_date(t) {
            Some(d) => d,
            None => time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map(|dt| dt.to_offset(time::UtcOffset::UTC).date())
                .map_err(|_| format!("\"{t}\" is not a date or an RFC 3339 date-time"))?,
        };
        super::journeys::bounded_day(d).map(Some)
    };
    match s.split_once('/') {
        None if s.trim() == ".." => Err("an instant cannot be \"..\"".into()),
        None => {
            let d = one(s)?;
            Ok((d, d))
        }
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if let (Some(x), Some(y)) = (a, b)
                && x > y
            {
                return Err("the interval ends before it starts".into());
            }
            Ok((a, b))
        }
    }
}

/// An items request, parsed.
pub(super) struct Query {
    /// features whose geometry intersects this lon/lat box
    bbox: Option<Bbox>,
    limit: usize,
    offset: usize,
    crs: Crs,
    /// the journeys counted (or listed): datetime and the journey filters
    journeys: JourneyFilter,
    /// the place filter of stations and hotspots (`force` there is the station's force)
    place_force: Option<u16>,
    code: Option<String>,
    /// measure, inference and `significant` of hotspots
    hotspot: lay::HotspotQuery,
    origin: Option<u16>,
    destination: Option<u16>,
    /// how flows are placed between forces
    direction: layers::Direction,
    /// leave polygons and lines out (CSV tables of forces and track sections)
    no_geometry: bool,
    /// the caller is a viewer: hotspots and flows from published counts only
    viewer: bool,
    /// journeys with their persons' summaries
    persons: bool,
    /// the CQL2 `filter`, checked against the collection's queryables
    filter: Option<Expr>,
}

fn bbox_param(p: &Params) -> Result<Option<Bbox>, ApiError> {
    let bbox_crs = p
        .get("bbox-crs")
        .map(|s| {
            Crs::parse(s).map_err(|message| ApiError::InvalidParameter {
                name: "bbox-crs",
                message,
            })
        })
        .transpose()?
        .unwrap_or(Crs::Crs84);
    let Some(s) = p.get("bbox") else {
        return Ok(None);
    };
    let invalid = |message: String| ApiError::InvalidParameter {
        name: "bbox",
        message,
    };
    let v: Vec<f64> = s
        .split(',')
        .map(|x| x.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(|| invalid(format!("\"{s}\" is not comma-separated numbers")))?;
    let b = match v.len() {
        4 => [v[0], v[1], v[2], v[3]],
        6 => [v[0], v[1], v[3], v[4]],
        _ => return Err(invalid(format!("\"{s}\" is not 4 (or 6) numbers"))),
    };
    if b[0] > b[2] || b[1] > b[3] {
        return Err(invalid(format!(
            "\"{s}\": the lower corner must come first (min, min, max, max)"
        )));
    }
    let ll = bbox_crs.bbox_to_lonlat(b).ok_or_else(|| {
        invalid(format!(
            "\"{s}\" cannot be projected from {}",
            bbox_crs.uri()
        ))
    })?;
    // boxes reaching beyond the world are clamped, not refused
    Bbox::new(
        ll[0].max(-180.0),
        ll[1].max(-90.0),
        ll[2].min(180.0),
        ll[3].min(90.0),
    )
    .map(Some)
    .map_err(invalid)
}

fn crs_param(p: &Params) -> Result<Crs, ApiError> {
    p.get("crs")
        .map(|s| {
            Crs::parse(s).map_err(|message| ApiError::InvalidParameter {
                name: "crs",
                message,
            })
        })
        .transpose()
        .map(|c| c.unwrap_or(Crs::Crs84))
}

fn query(c: Collection, raw: &str, state: &AppState) -> Result<Query, ApiError> {
    let p = Params::parse(raw, item_params(c))?;
    let days = match p.get("datetime") {
        Some(s) => parse_datetime(s).map_err(|message| ApiError::InvalidParameter {
            name: "datetime",
            message,
        })?,
        None => (None, None),
    };
    // the journey filters; bbox and force are handled here, per collection
    let mut journeys = filter_from(&p.without(&["bbox", "force"]), state)?;
    (journeys.from_day, journeys.to_day) = days;
    let force = force_param(&p, "force", state)?;
    let mut place_force = None;
    if c.lists_stations() {
        place_force = force;
    } else {
        journeys.force = force;
    }
    let bbox = bbox_param(&p)?;
    if c.journey_level() {
        journeys.bbox = bbox;
    }
    Ok(Query {
        bbox,
        limit: p.int("limit", 1, MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT) as usize,
        offset: p.int("offset", 0, i64::MAX)?.unwrap_or(0) as usize,
        crs: crs_param(&p)?,
        journeys,
        place_force,
        code: p.get("code").map(str::to_string),
        hotspot: lay::hotspot_query(&p)?,
        origin: force_param(&p, "origin_force", state)?,
        destination: force_param(&p, "destination_force", state)?,
        direction: lay::direction_param(&p)?,
        no_geometry: false,
        viewer: false,
        // journeys' own `persons` (their summaries); elsewhere `persons` is a queryable
        persons: c.params().contains(&"persons")
            && super::journeys::bool_param(&p, "persons")?.unwrap_or(false),
        filter: filter_param(c, c.params(), &p, state)?,
    })
}

fn page_links(
    b: &str,
    id: Collection,
    raw: &str,
    q: &Query,
    matched: usize,
    returned: usize,
) -> Vec<Value> {
    let href = |qs: &str| {
        format!(
            "{b}/collections/{id}/items{}{qs}",
            if qs.is_empty() { "" } else { "?" }
        )
    };
    let mut links = vec![link(href(raw), "self", GEOJSON, "this page")];
    if q.offset + returned < matched {
        links.push(link(
            href(&with_offset(raw, q.offset + q.limit)),
            "next",
            GEOJSON,
            "next page",
        ));
    }
    if q.offset > 0 {
        links.push(link(
            href(&with_offset(raw, q.offset.saturating_sub(q.limit))),
            "prev",
            GEOJSON,
            "previous page",
        ));
    }
    links
}

/// The key of the rows a filter `e` keeps of a query: every items parameter that changes which
/// rows there are or what they say.
fn features_key(
    id: Collection,
    e: &Expr,
    q: &Query,
    published: bool,
) -> crate::layers::service::FeaturesKey {
    (
        id,
        e.to_string(),
        q.bbox.as_ref().map(BboxKey::of),
        FilterKey::of(&q.journeys),
        q.place_force,
        q.code.clone(),
        q.hotspot,
        q.origin,
        q.destination,
        q.direction,
        q.no_geometry,
        published,
    )
}

/// The journeys `f` selects that pass the filter `e`, as positions in the index at its current
/// version (read them with the same guard): the candidates are narrowed through the route
/// R-tree when the filter requires an `S_INTERSECTS` and through a station's list when it
/// requires `origin_station` or `destination_station` to equal one (the journey filters'
/// own indexes), then each is tested with the filter compiled to the journeys' typed
/// accessor (no properties map per journey; cheap tests first, the route's box before its
/// line). Memoised per (normalised filter, journey filter) until the journeys change, so that
/// the next page of the same filter is a slice.
pub fn filtered_journeys(
    idx: &crate::journey::index::JourneyIndex,
    state: &AppState,
    f: &JourneyFilter,
    e: &Expr,
) -> Result<Arc<Vec<u32>>, ApiError> {
    use super::queryables::{JourneyProp, JourneyRow, RouteAnswers, SharedRouteRow};
    let g = state.journeys.geography();
    let plan = cql2::compile(e, JourneyProp::of).map_err(|err| ApiError::InvalidParameter {
        name: "filter",
        message: err.to_string(),
    })?;
    // the terms on the side-by-side fields as typed tests, `date` bounds as a day range (the
    // index's day lists), the rest compiled as CQL2 (the whole filter was compiled above, so
    // the errors are the whole filter's)
    let split = super::queryables::hot_split(e, g);
    let rest =
        match &split.rest {
            Some(r) => Some(cql2::compile(r, JourneyProp::of).map_err(|err| {
                ApiError::InvalidParameter {
                    name: "filter",
                    message: err.to_string(),
                }
            })?),
            None => None,
        };
    drop(plan);
    let key = (e.to_string(), FilterKey::of(f));
    Ok(state.memos.filtered_journeys.0.get(
        idx.version() as usize,
        std::time::Duration::ZERO,
        key,
        || {
            // the first top-level S_INTERSECTS: its box narrows the candidates to the routes
            // of the route R-tree whose box meets it, and each of them is tested once, its
            // journeys visited only when it meets the geometry (not tested again per journey)
            let envelope = split
                .route_geometry
                .as_ref()
                .and_then(geo::BoundingRect::bounding_rect)
                .map(|r| Bbox {
                    min_lon: r.min().x,
                    min_lat: r.min().y,
                    max_lon: r.max().x,
                    max_lat: r.max().y,
                });
            let mut candidates = f.clone();
            if candidates.station.is_none() {
                candidates.station = ["origin_station", "destination_station"]
                    .iter()
                    .find_map(|n| cql2::required_equal(e, n))
                    .and_then(|c| StationCode::parse(c).ok())
                    .and_then(|c| g.stations.index_of(&c))
                    .map(|i| i as u32);
            }
            if let Some(d) = split.from_day {
                candidates.from_day = Some(candidates.from_day.map_or(d, |x| x.max(d)));
            }
            if let Some(d) = split.to_day {
                candidates.to_day = Some(candidates.to_day.map_or(d, |x| x.min(d)));
            }
            // journeys on one route share the answer of its spatial tests
            let answers = RouteAnswers::new(idx);
            let route_meets = |r: u32, view: crate::journey::map::RouteView<'_>| {
                split
                    .route_geometry
                    .as_ref()
                    .is_none_or(|geom| answers.meets_view(r, view, g, geom))
            };
            idx.positions_on_routes(g, &candidates, envelope, route_meets, |j, h| {
                split.tests.iter().all(|t| t(h))
                    && rest.as_ref().is_none_or(|plan| {
                        plan.selects(&SharedRouteRow {
                            row: JourneyRow {
                                journey: j,
                                hot: *h,
                                geo: g,
                            },
                            route: h.route,
                            answers: &answers,
                        })
                    })
            })
        },
    ))
}

/// The features of a collection other than journeys whose geometry meets `bbox`, as the items
/// answer gives them (every one, in the items' order; a viewer's published), over the
/// journeys `journeys` selects; `place_force` is the
/// station's force of `stations`. For vector tiles.
pub(crate) fn tile_rows(
    state: &AppState,
    id: Collection,
    journeys: JourneyFilter,
    place_force: Option<u16>,
    bbox: Bbox,
    direction: layers::Direction,
    viewer: bool,
) -> Result<Vec<Value>, ApiError> {
    let q = Query {
        bbox: Some(bbox),
        limit: usize::MAX,
        offset: 0,
        crs: Crs::Crs84,
        journeys,
        place_force,
        code: None,
        hotspot: lay::HotspotQuery::default(),
        origin: None,
        destination: None,
        direction,
        no_geometry: false,
        viewer,
        persons: false,
        filter: None,
    };
    // a viewer's rows published before they are written
    let d = viewer.then_some(&state.security.disclosure);
    let g = state.journeys.geography();
    let to = places::ToValues { geometry: true };
    places::select_places(g, state, id, &q, None, 0, usize::MAX, d, to).map(|(_, f)| f)
}

/// A GeoJSON reply in a CRS: the geometries rewritten, and the `Content-Crs` header.
fn geojson_in(mut body: Value, crs: Crs) -> Response {
    if crs != Crs::Crs84 {
        match body.get_mut("features") {
            Some(Value::Array(fs)) => fs
                .iter_mut()
                .for_each(|f| crs.transform_geometry(&mut f["geometry"])),
            _ => crs.transform_geometry(&mut body["geometry"]),
        }
    }
    match serde_json::to_vec(&body) {
        Ok(bytes) => geojson_bytes(bytes, crs),
        Err(e) => warp::Reply::into_response(ApiError::Internal(e.to_string())),
    }
}

/// GeoJSON bytes in a CRS as a reply, with the `Content-Crs` header.
fn geojson_bytes(bytes: Vec<u8>, crs: Crs) -> Response {
    let mut r = Response::new(bytes.into());
    r.headers_mut().insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static(GEOJSON),
    );
    if let Ok(v) = warp::http::HeaderValue::from_str(&crs.header()) {
        r.headers_mut().insert("content-crs", v);
    }
    r
}

pub async fn items(
    id: String,
    raw: String,
    host: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let (c, q) = collection(&id).and_then(|c| {
        let mut q = query(c, &raw, &state)?;
        if c.journey_level() {
            who.check_journey_read(q.persons)?;
        }
        q.viewer = who.viewer();
        if c.journey_level() {
            who.scope(&mut q.journeys, &state);
        }
        q.journeys.disclose_non_btp = !c.journey_level() && who.disclose_non_btp();
        Ok((c, q))
    })?;
    let b = base(&host);
    super::offload(
        state.limits.clone(),
        move || -> Result<Response, ApiError> {
            if c.journey_level() {
                // journeys go straight to bytes: no JSON tree for a million positions
                let g = state.journeys.geography().clone();
                let (matched, list) = match &q.filter {
                    None => state
                        .journeys
                        .index()
                        .query(&g, &q.journeys, q.offset, q.limit),
                    Some(e) => {
                        let idx = state.journeys.index();
                        let ids = filtered_journeys(&idx, &state, &q.journeys, e)?;
                        let page = ids
                            .iter()
                            .skip(q.offset)
                            .take(q.limit)
                            .filter_map(|&i| idx.at(i).cloned())
                            .collect();
                        (ids.len(), page)
                    }
                };
                let links = page_links(&b, c, &raw, &q, matched, list.len());
                let features: Vec<JourneyFeature> = list
                    .iter()
                    .map(|j| JourneyFeature {
                        state: &state,
                        journey: j,
                        geometry: true,
                        crs: q.crs,
                        persons: q.persons,
                    })
                    .collect();
                let n = features.len();
                let mut out = FeatureCollectionOut::new(features, matched, links);
                // journey level: the caller reads every journey counted, so the count is exact
                out.untimed_excluded = state.journeys.index().untimed_excluded(&g, &q.journeys);
                let mut r = super::journeys::record_count(out.reply(GEOJSON), n);
                if let Ok(v) = warp::http::HeaderValue::from_str(&q.crs.header()) {
                    r.headers_mut().insert("content-crs", v);
                }
                return Ok(r);
            }
            // every other collection: typed rows, published for a viewer before they are written
            let disclosure = q.viewer.then_some(&state.security.disclosure);
            let g = state.journeys.geography();
            let links = |matched, n| page_links(&b, c, &raw, &q, matched, n);
            let to = places::ItemsBytes {
                crs: q.crs,
                disclosure: disclosure.map(Disclosure::notice),
                untimed_excluded: lay::untimed_excluded(&state, &q.journeys, q.viewer),
                links: &links,
            };
            let (filter, offset, limit) = (q.filter.as_ref(), q.offset, q.limit);
            let bytes =
                places::select_places(g, &state, c, &q, filter, offset, limit, disclosure, to)?;
            let r = geojson_bytes(bytes, q.crs);
            Ok(super::guard::disclosed_if(
                q.viewer,
                lay::with_selection(r, lay::selection_size(&state, &q.journeys)),
            ))
        },
    )
    .await?
}

/// A single feature's links: itself and its collection.
fn item_links(b: &str, c: Collection, fid: &str) -> Vec<Value> {
    vec![
        link(
            format!("{b}/collections/{c}/items/{fid}"),
            "self",
            GEOJSON,
            "this feature",
        ),
        link(
            format!("{b}/collections/{c}"),
            "collection",
            JSON,
            c.title(),
        ),
    ]
}

pub async fn item(
    id: String,
    fid: String,
    raw: String,
    host: Option<String>,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let (c, crs, persons) = (|| {
        let c = collection(&id)?;
        let names: &[&str] = if c.journey_level() {
            &["f", "crs", "persons"]
        } else {
            &["f", "crs"]
        };
        let p = Params::parse(&raw, names)?;
        let persons = super::journeys::bool_param(&p, "persons")?.unwrap_or(false);
        if c.journey_level() {
            who.check_journey_read(persons)?;
        }
        Ok::<_, ApiError>((c, crs_param(&p)?, persons))
    })()?;
    let b = base(&host);
    super::offload(
        state.limits.clone(),
        move || -> Result<Response, ApiError> {
            let g = state.journeys.geography().clone();
            let not_found = || ApiError::NotFound(format!("no feature \"{fid}\" in {c}"));
            let all = JourneyFilter {
                disclose_non_btp: who.disclose_non_btp(),
                ..JourneyFilter::default()
            };
            let mut feature = match c {
                Collection::Stations | Collection::Forces | Collection::Rail => {
                    // typed rows, published for a viewer before they are written
                    let d = who.viewer().then_some(&state.security.disclosure);
                    let links = item_links(&b, c, &fid);
                    let bytes = match c {
                        Collection::Stations => {
                            let code = StationCode::parse(&fid).map_err(|_| not_found())?;
                            let i = g.stations.index_of(&code).ok_or_else(not_found)?;
                            let counts = lay::station_counts(&state, &all);
                            let row = StationRow::new(&g, i, &counts[i]);
                            places::item_bytes(row, d, crs, &links)?
                        }
                        Collection::Forces => {
                            let code = ForceCode::parse(&fid).map_err(|_| not_found())?;
                            let i = g.forces.index_of(&code).ok_or_else(not_found)?;
                            let counts = lay::force_counts(&state, &all);
                            let carried = lay::force_totals(&state, &all);
                            let row = ForceRow::new(&g, i, counts[i], &carried[i]);
                            places::item_bytes(row, d, crs, &links)?
                        }
                        _ => {
                            let i: usize = fid.parse().map_err(|_| not_found())?;
                            if i >= g.rail.chains().len() {
                                return Err(not_found());
                            }
                            let row = SectionRow::new(&g, i, &section_stats(&state, &all)[i]);
                            places::item_bytes(row, d, crs, &links)?
                        }
                    };
                    let r = geojson_bytes(bytes, crs);
                    return Ok(super::guard::disclosed_if(d.is_some(), r));
                }
                Collection::Hotspots => {
                    let code = StationCode::parse(&fid).map_err(|_| not_found())?;
                    let i = g.stations.index_of(&code).ok_or_else(not_found)?;
                    let rows = hotspot_rows(
                        &state,
                        &all,
                        PlaceFilter::default(),
                        HotspotSort::GiZ,
                        lay::HotspotQuery::default(),
                        who.viewer(),
                    );
                    let h = rows.iter().find(|h| h.station == i).ok_or_else(not_found)?;
                    let d = who.viewer().then_some(&state.security.disclosure);
                    let row = HotspotRow::new(&g, h);
                    let bytes = places::item_bytes(row, d, crs, &item_links(&b, c, &fid))?;
                    let r = geojson_bytes(bytes, crs);
                    return Ok(super::guard::disclosed_if(d.is_some(), r));
                }
                Collection::Flows => {
                    let direction = layers::Direction::Line;
                    let flows = lay::flow_rows(&state, &all, None, None, direction, who.viewer());
                    let f = flows
                        .rows
                        .iter()
                        .find(|f| flow_id(&g, f) == fid)
                        .ok_or_else(not_found)?;
                    let row = places::FlowPlace::new(&state, FlowRow::new(&g, f, direction));
                    let d = who.viewer().then_some(&state.security.disclosure);
                    let bytes = places::item_bytes(row, d, crs, &item_links(&b, c, &fid))?;
                    let r = geojson_bytes(bytes, crs);
                    return Ok(super::guard::disclosed_if(d.is_some(), r));
                }
                Collection::Journeys => {
                    let j = {
                        let idx = state.journeys.index();
                        idx.get(&fid)
                            .filter(|j| who.may_see(j, idx.is_restricted(&fid), &state))
                            .cloned()
                    }
                    .ok_or_else(not_found)?;
                    serde_json::to_value(JourneyFeature {
                        state: &state,
                        journey: &j,
                        geometry: true,
                        crs: Crs::Crs84,
                        persons,
                    })
                    .unwrap_or(Value::Null)
                }
            };
            feature["links"] = Value::Array(item_links(&b, c, &fid));
            let r = geojson_in(feature, crs);
            Ok(if c.journey_level() {
                super::journeys::record_count(r, 1)
            } else {
                r
            })
        },
    )
    .await?
}

/// A layer's export: (the bytes, the rows, the journeys selected, the untimed journeys an
/// `hours`/`days` filter left out as the caller may see them, [`lay::untimed_excluded`],
/// whether the bytes are published for the caller, a viewer, on the rows: else the guard
/// publishes them).
pub type LayerDownload = (Vec<u8>, usize, usize, Option<Option<u64>>, bool);

/// A whole collection under a filter, for `/api/export` (not streamed: every collection but
/// journeys is at most a few thousand features; journeys stream in [`super::layers`]).
/// `bbox` and `force` follow the items' rules; the CQL2 `filter` keeps the features the same
/// items request keeps (a viewer's compared after disclosure control, as there).
#[allow(clippy::too_many_arguments)]
pub fn layer_download(
    state: &AppState,
    export: crate::layers::collection::Export,
    f: JourneyFilter,
    hotspot: lay::HotspotQuery,
    csv: bool,
    who: &super::guard::Who,
    direction: layers::Direction,
    filter: Option<Expr>,
) -> Result<LayerDownload, ApiError> {
    let g = state.journeys.geography().clone();
    let viewer = who.viewer();
    let mut f = f;
    f.disclose_non_btp = who.disclose_non_btp();
    let Some(id) = export.collection() else {
        return if csv {
            let untimed = lay::untimed_excluded(state, &f, viewer);
            let d = viewer.then_some(&state.security.disclosure);
            lay::trends_csv(state, &f, who.sees_all_journeys(), d)
                .map(|(b, r, s)| (b, r, s, untimed, viewer))
        } else {
            Err(ApiError::InvalidParameter {
                name: "format",
                message: "trends export as csv; GET /api/trends gives JSON".into(),
            })
        };
    };
    let (bbox, force) = (f.bbox, f.force);
    let mut journeys = f;
    let mut place_force = None;
    if id.lists_stations() {
        place_force = force;
        journeys.force = None;
    }
    // as in /api/flows, bbox there selects the journeys (their routes), not the flow lines
    if !id.bbox_selects_journeys() {
        journeys.bbox = None;
    }
    let q = Query {
        bbox: if id == Collection::Flows { None } else { bbox },
        limit: usize::MAX,
        offset: 0,
        crs: Crs::Crs84,
        journeys,
        place_force,
        code: None,
        hotspot,
        origin: None,
        destination: None,
        direction,
        no_geometry: csv,
        viewer,
        persons: false,
        filter,
    };
    let selected = lay::selection_size(state, &q.journeys);
    let untimed = lay::untimed_excluded(state, &q.journeys, viewer);
    let disclosure = viewer.then_some(&state.security.disclosure);
    // under a filter, the ids of the features it keeps (the CSV tables below are of rows)
    let kept: Option<std::collections::HashSet<String>> = match &q.filter {
        Some(e) if csv && matches!(id, Collection::Hotspots | Collection::Flows) => {
            let (ids, all) = (places::Ids, usize::MAX);
            let f = Some(e);
            Some(places::select_places(
                &g, state, id, &q, f, 0, all, disclosure, ids,
            )?)
        }
        _ => None,
    };
    let keeps = |fid: &str| kept.as_ref().is_none_or(|k| k.contains(fid));
    if csv {
        match id {
            Collection::Hotspots => {
                let mut rows = hotspot_rows(
                    state,
                    &q.journeys,
                    PlaceFilter {
                        bbox: q.bbox,
                        force: q.place_force,
                    },
                    HotspotSort::GiZ,
                    hotspot,
                    viewer,
                );
                rows.retain(|h| keeps(g.stations.get(h.station).code.as_str()));
                // published on the rows for a viewer
                let rows = lay::hotspot_typed_rows(&g, &rows, disclosure);
                let n = rows.len();
                return lay::hotspot_csv(&rows).map(|b| (b, n, selected, untimed, viewer));
            }
            Collection::Flows => {
                let mut flows = lay::flow_rows(state, &q.journeys, None, None, direction, viewer);
                flows.rows.retain(|f| keeps(&flow_id(&g, f)));
                // published on the rows for a viewer
                let rows = lay::flow_typed_rows(&g, &flows, direction, disclosure);
                return lay::flow_csv(&rows).map(|b| (b, rows.len(), selected, untimed, viewer));
            }
            _ => {}
        }
    }
    // typed rows, published for a viewer before they are written (journeys stream from
    // `/api/export` itself)
    let to = places::ExportBytes {
        csv,
        disclosure: disclosure.map(Disclosure::notice),
        untimed_excluded: untimed,
    };
    let filter = q.filter.as_ref();
    let (bytes, n) =
        places::select_places(&g, state, id, &q, filter, 0, usize::MAX, disclosure, to)?;
    Ok((bytes, n, selected, untimed, viewer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journey::map::day_number;

    #[test]
    fn datetime_takes_instants_and_open_intervals() {
        let d = |s| day_number(parse_date(s).unwrap());
        assert_eq!(
            parse_datetime("2024-03-06"),
            Ok((Some(d("2024-03-06")), Some(d("2024-03-06"))))
        );
        assert_eq!(
            parse_datetime("2024-03-06T23:30:00-02:00"),
            Ok((Some(d("2024-03-07")), Some(d("2024-03-07"))))
        );
        assert_eq!(
            parse_datetime("2024-01-01/.."),
            Ok((Some(d("2024-01-01")), None))
        );
        assert_eq!(
            parse_datetime("../2024-01-01"),
            Ok((None, Some(d("2024-01-01"))))
        );
        assert_eq!(
            parse_datetime("/2024-01-01"),
            Ok((None, Some(d("2024-01-01"))))
        );
        assert!(parse_datetime("2024-02-01/2024-01-01").is_err());
        assert!(parse_datetime("..").is_err());
        assert!(parse_datetime("yesterday").is_err());
    }
}
