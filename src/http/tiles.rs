//! OGC API – Tiles (OGC 20-057) over the collections `journeys`, `rail`, `stations` and
//! `flows`: the tile matrix sets (`/tileMatrixSets`, `/tileMatrixSets/WebMercatorQuad`), each
//! collection's tilesets (`/collections/{id}/tiles`, `/collections/{id}/tiles/WebMercatorQuad`)
//! and its tiles as Mapbox Vector Tiles (`/collections/{id}/tiles/WebMercatorQuad/{z}/{x}/{y}`).
//!
//! The tile path is `{z}/{x}/{y}`: zoom, then **column** (`x`, from the west), then **row**
//! (`y`, from the north), as XYZ clients (MapLibre, QGIS's XYZ vector tiles) fill it. OGC writes
//! its template `{tileMatrix}/{tileRow}/{tileCol}`; the tileset's `item` link therefore names
//! the variables in our order, `{tileMatrix}/{tileCol}/{tileRow}`, so an OGC client fills it
//! correctly too.
//!
//! A tile takes the journey filters the items take (`from`, `to`, `datetime`, `force`,
//! `cross_border`, `exporting_force`, `importing_force`, `mode`, `age_band`, `role`, `line`,
//! `station`, `hours`, `days`; `direction` for flows); its box is the tile. Journeys follow
//! journey-level access exactly as the items do (and are audited as a read of the journeys in
//! the tile); `rail`, `stations` and `flows` are built from the features the items answer gives
//! the caller over the tile's box, after disclosure control for a viewer (so a viewer's tile
//! holds only published counts, and no count below k), with a `btp_planner`'s split counts.
//! A tile with nothing in it (outside GB) is an empty `200` tile with its layer and no
//! features. The geometry, the zoom rules and the size cap are [`crate::layers::tiles`]'s.

use super::error::ApiError;
use super::journeys::{filter_from, force_param};
use super::params::Params;
use super::{AppState, json_reply};
use crate::layers::collection::Collection;
use crate::layers::tiles::{
    self as t, ChainShapes, Geom, MAX_BYTES, MAX_FEATURES, MAX_ZOOM, Prop, RouteIndex, TileFeature,
    TileId,
};
use serde_json::{Value, json};
use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use warp::reply::Response;

/// The collections served as vector tiles (each tile's one layer is named after its collection).
pub const TILE_COLLECTIONS: &[Collection] = &Collection::TILED;
/// The one tile matrix set.
pub const TMS_ID: &str = "WebMercatorQuad";
pub const TMS_URI: &str = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad";
/// The media type of a tile.
pub const MVT: &str = "application/vnd.mapbox-vector-tile";
/// Link relations of OGC API – Tiles.
pub const TILING_SCHEMES_REL: &str = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes";
pub const TILING_SCHEME_REL: &str = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme";
pub const TILESETS_VECTOR_REL: &str = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector";
/// Response headers saying what the size cap left out of a tile.
pub const FEATURES_DROPPED: &str = "x-tile-features-dropped";
pub const JOURNEYS_DROPPED: &str = "x-tile-journeys-dropped";

const JSON: &str = "application/json";
const EPSG_3857: &str = "http://www.opengis.net/def/crs/EPSG/0/3857";

/// Query parameters of a tile (all but flows: no `direction`).
pub const TILE_PARAMS: &[&str] = &[
    "from",
    "to",
    "datetime",
    "force",
    "cross_border",
    "exporting_force",
    "importing_force",
    "mode",
    "age_band",
    "role",
    "line",
    "station",
    "hours",
    "days",
    "f",
];
/// Query parameters of a flows tile.
pub const FLOW_TILE_PARAMS: &[&str] = &[
    "from",
    "to",
    "datetime",
    "force",
    "cross_border",
    "exporting_force",
    "importing_force",
    "mode",
    "age_band",
    "role",
    "line",
    "station",
    "hours",
    "days",
    "f",
    "direction",
];

/// The journeys' route index, rebuilt when the journeys change (see [`RouteIndex`]), and the
/// rail chains simplified per zoom band (built once).
#[derive(Default)]
pub struct RouteCache {
    shapes: std::sync::OnceLock<ChainShapes>,
    current: Mutex<Option<Arc<RouteIndex>>>,
    /// held while building, so that a burst of tile requests builds once
    building: Mutex<()>,
}

impl RouteCache {
    /// The rail chains per zoom band (built on first use).
    pub fn shapes(&self, geo: &crate::geography::Geography) -> &ChainShapes {
        self.shapes.get_or_init(|| ChainShapes::build(geo))
    }

    /// The index for `idx` (its version), built now if the one kept is older.
    pub fn get(&self, idx: &crate::journey::index::JourneyIndex) -> Arc<RouteIndex> {
        let kept = || {
            self.current
                .lock()
                .ok()
                .and_then(|g| g.clone())
                .filter(|r| r.version() == idx.version())
        };
        if let Some(r) = kept() {
            return r;
        }
        let _one = self.building.lock();
        if let Some(r) = kept() {
            return r;
        }
        let r = Arc::new(RouteIndex::build(idx));
        if let Ok(mut g) = self.current.lock() {
            *g = Some(r.clone());
        }
        r
    }
}

fn base(host: &Option<String>) -> String {
    format!("http://{}", host.as_deref().unwrap_or("localhost"))
}

fn link(href: String, rel: &str, typ: &str, title: &str) -> Value {
    json!({"href": href, "rel": rel, "type": typ, "title": title})
}

fn tile_collection(id: &str) -> Result<Collection, ApiError> {
    Collection::parse(id).filter(|c| c.tiled()).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no vector tiles of \"{id}\"; tiled collections are {}",
            TILE_COLLECTIONS
                .iter()
                .map(|c| c.id())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// `GET /tileMatrixSets`.
pub fn tile_matrix_sets(raw: String, host: Option<String>) -> Result<Response, ApiError> {
    Params::parse(&raw, &["f"])?;
    let b = base(&host);
    Ok(json_reply(
        &json!({
            "tileMatrixSets": [{
                "id": TMS_ID,
                "title": "Google Maps Compatible for the World",
                "uri": TMS_URI,
                "crs": EPSG_3857,
                "links": [link(format!("{b}/tileMatrixSets/{TMS_ID}"), "self", JSON, "WebMercatorQuad")],
            }],
            "links": [link(format!("{b}/tileMatrixSets"), "self", JSON, "the tile matrix sets")],
        }),
        JSON,
    ))
}

/// Half the side of the Web Mercator square, metres.
const HALF_SIDE_M: f64 = 20_037_508.342_789_244;

/// `GET /tileMatrixSets/WebMercatorQuad`: the OGC 2D Tile Matrix Set (17-083r4) definition.
pub fn tile_matrix_set(raw: String, host: Option<String>) -> Result<Response, ApiError> {
    Params::parse(&raw, &["f"])?;
    let b = base(&host);
    let matrices: Vec<Value> = (0..=MAX_ZOOM)
        .map(|z| {
            let n = 1u64 << z;
            // metres a pixel of a 256-pixel tile, and the scale at 0.28 mm a pixel
            let cell = 2.0 * HALF_SIDE_M / 256.0 / n as f64;
            json!({
                "id": z.to_string(),
                "scaleDenominator": cell / 0.00028,
                "cellSize": cell,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-HALF_SIDE_M, HALF_SIDE_M],
                "tileWidth": 256,
                "tileHeight": 256,
                "matrixWidth": n,
                "matrixHeight": n,
            })
        })
        .collect();
    Ok(json_reply(
        &json!({
            "id": TMS_ID,
            "title": "Google Maps Compatible for the World",
            "uri": TMS_URI,
            "crs": EPSG_3857,
            "orderedAxes": ["X", "Y"],
            "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
            "tileMatrices": matrices,
            "links": [link(format!("{b}/tileMatrixSets/{TMS_ID}"), "self", JSON, "this tile matrix set")],
        }),
        JSON,
    ))
}

/// The layer's properties, as JSON Schema (for the tileset's `layers`).
fn layer_properties(id: Collection) -> Value {
    let int = |d: &str| json!({"type": "integer", "description": d});
    let text = |d: &str| json!({"type": "string", "description": d});
    match id {
        Collection::Journeys => json!({
            "journeys": int("journeys in the feature: 1 for one journey (from zoom 12), else the filter's journeys on this route geometry (below zoom 9: on the routes drawn alike at the zoom, one feature whose id is the same in every tile)"),
            "children": int("children on those journeys"),
            "id": text("the report id (one journey, from zoom 12)"),
            "persons": int("persons on the journey (from zoom 12)"),
            "date": text("the journey date (from zoom 12)"),
            "mode": text("the journey's mode (from zoom 12)"),
            "cross_border": {"type": "boolean", "description": "origin and destination in different forces (from zoom 12)"},
            "origin_station": text("CRS code (from zoom 12)"),
            "destination_station": text("CRS code (from zoom 12)"),
            "exporting_force": text("GSS code (from zoom 12)"),
            "importing_force": text("GSS code (from zoom 12)"),
            "line_id": text("the report's line (from zoom 12)"),
        }),
        Collection::Rail => json!({
            "section": int("the track section's number (its feature id in the items)"),
            "length_m": {"type": "number"},
            "journeys": int("journeys along the section (a viewer's: published, absent when suppressed)"),
            "persons": int("persons on them"),
            "children": int("children on them"),
        }),
        Collection::Stations | Collection::Hotspots => json!({
            "crs": text("the station's CRS code"),
            "name": text("its name"),
            "force": text("its force's GSS code"),
            "journeys": int("journeys that start, end or pass there (a viewer's: published, absent when suppressed)"),
            "stops": int("journeys with a known stop there"),
            "starts": int(""), "ends": int(""), "passes": int(""),
            "persons": int(""), "children": int(""),
        }),
        Collection::Flows | Collection::Forces => json!({
            "origin_force": text("GSS code"),
            "destination_force": text("GSS code"),
            "journeys": int("journeys between the pair (a viewer's: published; pairs under 5 are not listed)"),
            "children": int(""), "persons": int(""),
        }),
    }
}

/// The rule that drops features, said in the tileset metadata.
fn drop_rule(id: Collection) -> String {
    let order = if id.journey_level() {
        "route features with the most journeys first (below zoom 9 the routes whose lines pass the same cells of 8 pixels are one feature, their journeys summed; from zoom 12 a journey ranks with its route)"
    } else {
        "the features with the most journeys first (a viewer's published count; suppressed as 0), then in the items' order"
    };
    format!(
        "a tile holds at most {MAX_BYTES} bytes and {MAX_FEATURES} features, {order}; the least significant are dropped first to fit, and the response header {FEATURES_DROPPED} says how many were dropped ({JOURNEYS_DROPPED}: their journeys, for the journeys collection). Lines are clipped to the tile and a buffer of {} units of {}, quantised and simplified to one vertex a pixel of a 256-pixel tile. A tile with nothing in it is an empty tile (200) with its layer.",
        t::BUFFER,
        t::EXTENT
    )
}

fn tileset_json(id: Collection, b: &str, state: &AppState) -> Value {
    // GB's extent, as the tile rows and columns of each zoom
    let g = state.journeys.geography();
    let mut bb = crate::geography::Bbox::EMPTY;
    g.forces.forces().iter().for_each(|f| {
        bb.extend([f.bbox.min_lon, f.bbox.min_lat]);
        bb.extend([f.bbox.max_lon, f.bbox.max_lat]);
    });
    let nw = t::world([bb.min_lon, bb.max_lat]);
    let se = t::world([bb.max_lon, bb.min_lat]);
    let limits: Vec<Value> = (0..=MAX_ZOOM)
        .map(|z| {
            let n = (1u64 << z) as f64;
            let cell = |v: f64| ((v * n).floor() as u64).min((n as u64).saturating_sub(1));
            json!({
                "tileMatrix": z.to_string(),
                "minTileRow": cell(nw[1]), "maxTileRow": cell(se[1]),
                "minTileCol": cell(nw[0]), "maxTileCol": cell(se[0]),
            })
        })
        .collect();
    let dimension = match id.geometry() {
        crate::layers::collection::Geometry::Point => 0,
        _ => 1,
    };
    let href = format!("{b}/collections/{id}/tiles/{TMS_ID}");
    json!({
        "title": format!("{id}: vector tiles"),
        "description": drop_rule(id),
        "dataType": "vector",
        "crs": EPSG_3857,
        "tileMatrixSetURI": TMS_URI,
        "tileMatrixSetLimits": limits,
        "boundingBox": {
            "lowerLeft": [bb.min_lon, bb.min_lat],
            "upperRight": [bb.max_lon, bb.max_lat],
            "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        },
        "minTileMatrix": "0",
        "maxTileMatrix": MAX_ZOOM.to_string(),
        "layers": [{
            "id": id.id(),
            "dataType": "vector",
            "geometryDimension": dimension,
            "minTileMatrix": "0",
            "maxTileMatrix": MAX_ZOOM.to_string(),
            "propertiesSchema": {"type": "object", "properties": layer_properties(id)},
        }],
        "links": [
            link(href.clone(), "self", JSON, "this tileset"),
            link(format!("{b}/tileMatrixSets/{TMS_ID}"), TILING_SCHEME_REL, JSON, "the tile matrix set"),
            link(format!("{b}/collections/{id}"), "collection", JSON, "the collection"),
            // our path is {z}/{x}/{y} (column, then row): the variables are named in that order
            json!({
                "href": format!("{href}/{{tileMatrix}}/{{tileCol}}/{{tileRow}}"),
                "rel": "item",
                "type": MVT,
                "templated": true,
                "title": "a tile: zoom, then column (x, from the west), then row (y, from the north)",
            }),
        ],
    })
}

/// `GET /collections/{id}/tiles`: the collection's tilesets (one, WebMercatorQuad).
pub fn tilesets(
    id: String,
    raw: String,
    host: Option<String>,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    Params::parse(&raw, &["f"])?;
    let id = tile_collection(&id)?;
    let b = base(&host);
    let mut ts = tileset_json(id, &b, &state);
    if let Some(o) = ts.as_object_mut() {
        o.retain(|k, _| {
            matches!(
                k.as_str(),
                "title" | "dataType" | "crs" | "tileMatrixSetURI" | "links"
            )
        });
    }
    Ok(json_reply(
        &json!({
            "tilesets": [ts],
            "links": [link(format!("{b}/collections/{id}/tiles"), "self", JSON, "the tilesets")],
        }),
        JSON,
    ))
}

/// `GET /collections/{id}/tiles/WebMercatorQuad`: the tileset's metadata.
pub fn tileset(
    id: String,
    raw: String,
    host: Option<String>,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    Params::parse(&raw, &["f"])?;
    let id = tile_collection(&id)?;
    Ok(json_reply(&tileset_json(id, &base(&host), &state), JSON))
}

/// `z`, `x`, `y` of the path, checked against the tile matrix set (a 400 names the one that
/// is wrong).
fn tile_id(zxy: &[String; 3]) -> Result<TileId, ApiError> {
    let bad = |name: &str, message: String| {
        ApiError::BadRequest(format!("path parameter \"{name}\" of the tile: {message}"))
    };
    let mut v = [0u32; 3];
    for ((out, text), name) in v.iter_mut().zip(zxy).zip(["z", "x", "y"]) {
        *out = text.parse::<u32>().map_err(|_| {
            bad(
                name,
                format!(
                    "\"{text}\" is not a whole number (the path is /{{z}}/{{x}}/{{y}}: zoom 0 to {MAX_ZOOM}, column, row)"
                ),
            )
        })?;
    }
    TileId::new(v[0], v[1], v[2]).map_err(|message| {
        let name = if v[0] > u32::from(MAX_ZOOM) {
            "z"
        } else if u64::from(v[1]) >= 1u64 << v[0] {
            "x"
        } else {
            "y"
        };
        bad(name, message)
    })
}

/// The journey filter of a tile request, and the place force of `stations`.
fn tile_filter(
    id: Collection,
    p: &Params,
    state: &AppState,
) -> Result<(crate::journey::index::JourneyFilter, Option<u16>), ApiError> {
    let mut f = filter_from(&p.without(&["force"]), state)?;
    if let Some(s) = p.get("datetime") {
        if p.get("from").is_some() || p.get("to").is_some() {
            return Err(ApiError::InvalidParameter {
                name: "datetime",
                message: "give datetime or from and to, not both".into(),
            });
        }
        (f.from_day, f.to_day) =
            super::ogc::parse_datetime(s).map_err(|message| ApiError::InvalidParameter {
                name: "datetime",
                message,
            })?;
    }
    let force = force_param(p, "force", state)?;
    Ok(if id.lists_stations() {
        (f, force)
    } else {
        f.force = force;
        (f, None)
    })
}

fn mvt_reply(bytes: Vec<u8>, dropped: usize) -> Response {
    let mut r = Response::new(bytes.into());
    let h = r.headers_mut();
    h.insert(
        warp::http::header::CONTENT_TYPE,
        warp::http::HeaderValue::from_static(MVT),
    );
    h.insert(FEATURES_DROPPED, dropped.into());
    r
}

/// A GeoJSON feature (as the items give it, after disclosure control for a viewer) in a tile:
/// its geometry clipped and quantised, its scalar properties as tags (nulls left out). `None`
/// when its geometry does not reach the tile.
fn feature_in_tile(tile: TileId, f: &Value) -> Option<TileFeature> {
    let pair = |c: &Value| -> Option<[f64; 2]> { Some([c.get(0)?.as_f64()?, c.get(1)?.as_f64()?]) };
    let g = &f["geometry"];
    let geom = match g["type"].as_str()? {
        "Point" => Geom::Points(vec![t::project_point(tile, pair(&g["coordinates"])?)?]),
        "LineString" => {
            let coords: Vec<[f64; 2]> = g["coordinates"]
                .as_array()?
                .iter()
                .filter_map(pair)
                .collect();
            let parts = t::project_line(tile, &coords);
            if parts.is_empty() {
                return None;
            }
            Geom::Lines(parts)
        }
        _ => return None,
    };
    let props = f["properties"]
        .as_object()?
        .iter()
        .filter_map(|(k, v)| {
            let p = match v {
                Value::String(s) => Prop::Str(s.clone()),
                Value::Bool(b) => Prop::Bool(*b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => Prop::Int(i),
                    None => Prop::Double(n.as_f64()?),
                },
                _ => return None,
            };
            Some((Cow::Owned(k.clone()), p))
        })
        .collect();
    Some(TileFeature {
        id: None,
        geom,
        props,
    })
}

/// `GET /collections/{id}/tiles/WebMercatorQuad/{z}/{x}/{y}`: a Mapbox Vector Tile.
pub async fn tile(
    id: String,
    zxy: [String; 3],
    raw: String,
    who: super::guard::Who,
    state: Arc<AppState>,
) -> Result<Response, ApiError> {
    let id = tile_collection(&id)?;
    let tile = tile_id(&zxy)?;
    let names = if id == Collection::Flows {
        FLOW_TILE_PARAMS
    } else {
        TILE_PARAMS
    };
    let p = Params::parse_formats(&raw, names, &["mvt"])?;
    let (mut f, place_force) = tile_filter(id, &p, &state)?;
    let direction = super::layers::direction_param(&p)?;
    if id.journey_level() {
        who.check_journey_read(false)?;
        who.scope(&mut f, &state);
    } else {
        f.disclose_non_btp = who.disclose_non_btp();
    }
    super::offload(state.limits.clone(), move || {
        if id.journey_level() {
            journeys_tile(&state, tile, &f)
        } else {
            layer_tile(&state, id, tile, f, place_force, direction, &who)
        }
    })
    .await?
}

fn journeys_tile(
    state: &AppState,
    tile: TileId,
    f: &crate::journey::index::JourneyFilter,
) -> Result<Response, ApiError> {
    let idx = state.journeys.index();
    let routes = state.tiles.get(&idx);
    let geo = state.journeys.geography();
    let out = routes.tile(&idx, geo, state.tiles.shapes(geo), tile, f);
    drop(idx);
    let mut r = mvt_reply(out.encoded.bytes, out.encoded.dropped);
    r.headers_mut()
        .insert(JOURNEYS_DROPPED, out.dropped_journeys.into());
    // the audit's record count: the journeys the tile describes
    Ok(super::journeys::record_count(r, out.journeys as usize))
}

fn layer_tile(
    state: &AppState,
    id: Collection,
    tile: TileId,
    f: crate::journey::index::JourneyFilter,
    place_force: Option<u16>,
    direction: crate::layers::Direction,
    who: &super::guard::Who,
) -> Result<Response, ApiError> {
    let viewer = who.viewer();
    let selected = super::layers::selection_size(state, &f);
    // a viewer's tile is made of the published rows only (tile_rows publishes them)
    let mut rows = super::ogc::tile_rows(
        state,
        id,
        f,
        place_force,
        tile.lonlat_bbox(),
        direction,
        viewer,
    )?;
    let journeys = |v: &Value| v["properties"]["journeys"].as_u64().unwrap_or(0);
    // most journeys first; ties keep the items' order
    rows.sort_by_key(|v| std::cmp::Reverse(journeys(v)));
    let features: Vec<TileFeature> = rows
        .iter()
        .filter_map(|v| feature_in_tile(tile, v))
        .collect();
    let out = t::encode(id.id(), &features);
    let r = super::layers::with_selection(mvt_reply(out.bytes, out.dropped), selected);
    Ok(super::guard::disclosed_if(viewer, r))
}
