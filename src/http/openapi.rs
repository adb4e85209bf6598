//! The API definition, OpenAPI 3.0.3, written by hand (generators emit 3.1, which the OGC
//! conformance suite cannot read). Built once and served at `/openapi`.

use super::ogc::{COLLECTIONS, Collection, DEFAULT_LIMIT, ItemParams, MAX_LIMIT};
use crate::geography::Geography;
use serde_json::{Value, json};
use std::sync::OnceLock;

fn param(name: &str, place: &str, description: &str, schema: Value, required: bool) -> Value {
    json!({"name": name, "in": place, "description": description, "required": required, "schema": schema})
}

fn query(name: &str, description: &str, schema: Value) -> Value {
    param(name, "query", description, schema, false)
}

fn responses(ok: &str, media: &str) -> Value {
    let err = json!({"description": "a JSON error naming the problem", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "200": {"description": ok, "content": {media: {"schema": {"type": "object"}}}},
        "304": {"description": "not modified: the representation still has the ETag sent in If-None-Match"},
        "400": err.clone(),
        "404": err.clone(),
        "406": err.clone(),
        "500": err,
    })
}

fn get(summary: &str, params: Vec<Value>, ok: &str, media: &str) -> Value {
    json!({"get": {"summary": summary, "parameters": params, "responses": responses(ok, media)}})
}

/// A table endpoint: JSON (or GeoJSON) by default, CSV with `f=csv`.
fn get_table(summary: &str, params: Vec<Value>, ok: &str, media: &str) -> Value {
    let mut op = get(summary, params, ok, media);
    op["get"]["responses"]["200"]["content"]["text/csv"] = json!({"schema": {"type": "string"}});
    op
}

/// The `untimed_excluded` member of an answer in `media` (an aggregate's is a count like any
/// other: null for a viewer below k).
fn untimed_member(op: &mut Value, media: &str) {
    op["get"]["responses"]["200"]["content"][media]["schema"]["properties"]["untimed_excluded"] = json!({
        "type": "integer",
        "minimum": 0,
        "nullable": true,
        "description": "with hours or days: the journeys left out for having no time (they pass every other filter); absent without them. In an aggregate it is a count like the others: for a viewer null below 5 and rounded to a multiple of 5, for a btp_planner the BTP part exactly plus the rest published",
    });
}

/// The OpenAPI document as JSON bytes, without a geography: station and force codes are
/// described by their shape only (the operations and parameters are the same as served).
pub fn document() -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_vec(&build(None)).unwrap_or_default())
}

/// The document the server serves: station and force codes are enumerations of the codes of
/// `geo`, the geography it was started with (a code of the right shape that is not in it is
/// refused with a 400, so the schema says which codes exist). Built once per process.
pub fn served(geo: &Geography) -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_vec(&build(Some(geo))).unwrap_or_default())
}

/// The description and schema of every query parameter the API takes, by name: one
/// catalogue, so that each operation's parameters in the document are exactly the names its
/// handler accepts (the handlers' lists are the constants used below).
fn describe(name: &str, context: &str) -> (String, Value) {
    use crate::journey::report::{AgeBand, Mode, Role};
    let force = json!({"$ref": "#/components/schemas/ForceCode"});
    let date = json!({"type": "string", "format": "date", "pattern": format!("^{}$", dates::filter_dates())});
    let (d, schema): (&str, Value) = match name {
        "bbox" if context == "ogc" => (
            "only features whose geometry intersects this box: min x, min y, max x, max y in bbox-crs (default CRS84: lon, lat); 6 numbers are accepted and the heights ignored",
            // 4 or 6 numbers; a 5-number box is refused (400). "4 or 6" as a oneOf of two
            // arrays is not serialised with explode false by schemathesis (it repeats bbox=),
            // so the schema says 4 to 6 and the 5-number box is one of the cases no schema
            // here can say
            json!({"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
        ),
        "bbox" if context == "places" => (
            "only places inside this box: min lon, min lat, max lon, max lat",
            json!({"type": "string", "pattern": lonlat_box()}),
        ),
        "bbox" => (
            "only journeys whose route intersects this box: min lon, min lat, max lon, max lat",
            json!({"type": "string", "pattern": lonlat_box()}),
        ),
        "bbox-crs" => (
            "the CRS of bbox",
            json!({"type": "string", "format": "uri", "enum": crate::http::crs::SUPPORTED, "default": crate::http::crs::CRS84}),
        ),
        "crs" => (
            "the CRS of the geometries in the response (EPSG:4326 is latitude, longitude; EPSG:27700 easting, northing)",
            json!({"type": "string", "format": "uri", "enum": crate::http::crs::SUPPORTED, "default": crate::http::crs::CRS84}),
        ),
        "filter" => (
            "a CQL2 expression (OGC 21-065r2) over the collection's queryables, ANDed with the other parameters: comparisons (= <> < > <= >=), AND, OR, NOT, IS NULL, LIKE, BETWEEN, IN, CASEI and S_INTERSECTS(geometry, BBOX(...) or a WKT POINT, LINESTRING, POLYGON or MULTI* geometry in filter-crs)",
            json!({"type": "string", "maxLength": crate::http::cql2::MAX_LEN}),
        ),
        "filter-lang" => (
            "the encoding of filter: CQL2 text (default) or JSON; cql-text and cql-json are read as cql2-text and cql2-json",
            json!({"type": "string", "enum": crate::http::ogc::FILTER_LANGS, "default": "cql2-text"}),
        ),
        "filter-crs" => (
            "the CRS of the geometries in filter",
            json!({"type": "string", "format": "uri", "enum": crate::http::crs::SUPPORTED, "default": crate::http::crs::CRS84}),
        ),
        "datetime" => (
            "an instant (date or RFC 3339 date-time) or an interval start/end with .. (or nothing) for an open end; matched against journey dates",
            json!({"type": "string", "pattern": dates::datetime_pattern()}),
        ),
        "limit" if context == "ogc" => (
            "most features in the response",
            json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        ),
        "limit" if context == "audit" => (
            "page size",
            json!({"type": "integer", "minimum": 1, "maximum": crate::http::handlers::MAX_AUDIT_LIMIT, "default": 1000}),
        ),
        "limit" => (
            "page size",
            json!({"type": "integer", "minimum": 1, "maximum": crate::http::journeys::MAX_LIMIT, "default": crate::http::journeys::DEFAULT_LIMIT}),
        ),
        "offset" => (
            "features to skip",
            json!({"type": "integer", "minimum": 0, "maximum": i64::MAX, "default": 0}),
        ),
        "f" if context == "table" => (
            "output format",
            json!({"type": "string", "enum": ["json", "geojson", "csv"]}),
        ),
        "f" => (
            "output format (only json)",
            json!({"type": "string", "enum": ["json", "geojson"]}),
        ),
        "from" => ("first journey date, YYYY-MM-DD", date),
        "to" => ("last journey date, YYYY-MM-DD", date),
        "force" if context == "places" => ("GSS code of the force the place is in", force),
        "force" => (
            "GSS code of a force the journey touches (either end or crossed)",
            force,
        ),
        "exporting_force" => (
            "GSS code of the line's exporting force (the origin's when the report names none)",
            force,
        ),
        "importing_force" => (
            "GSS code of the force the line supplies: the destination's, or the origin's when the journey ends back in the exporting force (a return run)",
            force,
        ),
        "direction" => (
            "line (default): from the line's exporting force (hub station) to the force (market station) it supplies; travel: from the journey's origin to its destination",
            json!({"type": "string", "enum": crate::layers::Direction::ALL, "default": "line"}),
        ),
        "origin_force" => ("GSS code of the origin's force", force),
        "destination_force" => ("GSS code of the destination's force", force),
        "cross_border" => (
            "origin and destination in different forces",
            json!({"type": "string", "enum": ["true", "false"]}),
        ),
        "significant" => (
            "only significant stations: hot (Gi* z > 0), cold (z < 0) or any",
            json!({"type": "string", "enum": crate::http::layers::Significant::ALL}),
        ),
        "time_lag" => (
            "periods before each period in its space-time neighbourhood",
            json!({"type": "integer", "minimum": 0, "maximum": 12, "default": 1}),
        ),
        "category" => (
            "only stations of this emerging hot spot category",
            json!({"type": "string", "enum": crate::layers::emerging::CATEGORIES}),
        ),
        "hours" => (
            "local hours (Europe/London), H-H, both included, wrapping past midnight (22-02); journeys with no time are left out (untimed_excluded says how many)",
            json!({"type": "string", "pattern": "^([01]?[0-9]|2[0-3])-([01]?[0-9]|2[0-3])$"}),
        ),
        "days" => (
            "local days of the week, comma-separated; journeys with no time are left out",
            json!({"type": "string", "pattern": format!("^({0})(,({0}))*$", crate::journey::clock::DAYS.join("|"))}),
        ),
        "measure" if context == "clock" => (
            "with station: only the journeys that count there under this measure (default stops)",
            json!({"type": "string", "enum": crate::layers::Measure::ALL, "default": "stops"}),
        ),
        "measure" => (
            "what is counted per station: stops (boardings, alightings, interchanges and encounters, each journey once), boardings, alightings, interchanges (via), encounters, on_route (passed without a known stop) or all (every journey starting, ending or passing)",
            json!({"type": "string", "enum": crate::layers::Measure::ALL, "default": "stops"}),
        ),
        "inference" => (
            "significance from a permutation test (conditional randomisation, as esda.G_Local) or the normal approximation",
            json!({"type": "string", "enum": ["permutation", "analytic"], "default": "permutation"}),
        ),
        "permutations" => (
            "draws of the permutation test",
            json!({"type": "integer", "minimum": crate::layers::hotspots::MIN_PERMUTATIONS, "maximum": crate::layers::hotspots::MAX_PERMUTATIONS, "default": crate::layers::hotspots::DEFAULT_PERMUTATIONS}),
        ),
        "seed" => (
            "seed of the permutation test's draws: the same seed gives the same answer",
            json!({"type": "integer", "minimum": 0, "default": crate::layers::hotspots::DEFAULT_SEED}),
        ),
        "mode" => (
            "journey modes, comma-separated",
            json!({"type": "string", "pattern": format!("^({0})(,({0}))*$", Mode::ALL.join("|"))}),
        ),
        "age_band" => (
            "some person on the journey is in one of these age bands (comma-separated)",
            json!({"type": "string", "pattern": format!("^({0})(,({0}))*$", AgeBand::ALL.join("|"))}),
        ),
        "role" => (
            "some person on the journey has one of these roles (comma-separated)",
            json!({"type": "string", "pattern": format!("^({0})(,({0}))*$", Role::ALL.join("|"))}),
        ),
        "code" => ("the feature's code (CRS or GSS)", json!({"type": "string"})),
        "line" => ("the report's line_id", json!({"type": "string"})),
        "station" => (
            "CRS code of a station the journey starts, ends or passes at",
            json!({"$ref": "#/components/schemas/StationCode"}),
        ),
        "top" => (
            "how many rows (stations or corridors), most first",
            json!({"type": "integer", "minimum": 1, "maximum": crate::http::layers::MAX_TOP, "default": crate::http::layers::DEFAULT_TOP}),
        ),
        "sort" => (
            "order, descending",
            json!({"type": "string", "enum": crate::http::layers::HotspotSort::ALL, "default": "gi_z"}),
        ),
        "format" if context == "export" => (
            "file format",
            json!({"type": "string", "enum": ["geojson", "csv"], "default": "geojson"}),
        ),
        "format" => (
            "geojson: flow lines; matrix: the origin x destination table (JSON rows, or CSV with f=csv)",
            json!({"type": "string", "enum": ["geojson", "matrix"], "default": "geojson"}),
        ),
        "interval" => (
            "period of each count",
            json!({"type": "string", "enum": ["week", "month"], "default": "month"}),
        ),
        "collection" => (
            "the collection to download",
            json!({"type": "string", "enum": crate::layers::collection::Export::IDS}),
        ),
        "by" => (
            "what the treatment rows are: the force that recorded the report (BTP a row of its own), or the origin's, destination's or exporting force",
            json!({"type": "string", "enum": crate::layers::treatment::By::ALL, "default": "source_force"}),
        ),
        "group" => (
            "which encounters: children (under 18), adults (18 and over), vulnerable_adults (adults with a vulnerability flag), all (unknown ages included)",
            json!({"type": "string", "enum": crate::layers::treatment::Group::ALL, "default": "all"}),
        ),
        "min_journeys" => (
            "only people on at least this many of the selected journeys",
            json!({"type": "integer", "minimum": 1, "maximum": 1000000, "default": 2}),
        ),
        "min_forces" => (
            "only people whose journeys start or end in at least this many force areas",
            json!({"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1}),
        ),
        "persons" => (
            "true: add each journey's persons_summary (pseudonymised person ids, age band, roles, victim status, referrals). Analysts and admins only, with an X-Justification header; the access is audited",
            json!({"type": "boolean"}),
        ),
        "actor" => (
            "events of this token holder (name or token id)",
            json!({"type": "string"}),
        ),
        "action" => (
            "events of this kind",
            json!({"type": "string", "enum": crate::vocab::AuditAction::ALL}),
        ),
        "since" => (
            "events at or after this time (RFC 3339)",
            json!({"type": "string", "format": "date-time"}),
        ),
        "until" => (
            "events at or before this time (RFC 3339)",
            json!({"type": "string", "format": "date-time"}),
        ),
        "properties" if context == "table" => (
            "only these properties of each flow (comma-separated; OGC API - Features' convention), beside origin_force and destination_force, which every flow keeps; the JSON answers only (400 with f=csv)",
            json!({"type": "array", "minItems": 1, "items": {"type": "string", "enum": crate::http::layers::flow_property_names().collect::<Vec<_>>()}}),
        ),
        _ => ("", json!({"type": "string"})),
    };
    (d.to_string(), schema)
}

/// The parameters of one operation, from its handler's list of names.
fn params_of(names: &[&str], context: &str) -> Vec<Value> {
    names
        .iter()
        .map(|&n| {
            let (d, schema) = describe(n, context);
            let mut p = query(n, &d, schema);
            if (n == "bbox" && context == "ogc") || n == "properties" {
                p["style"] = json!("form");
                p["explode"] = json!(false);
            }
            if n == "collection" {
                p["required"] = json!(true);
            }
            p
        })
        .collect()
}

/// The collection's queryables that are query parameters of its items
/// (`queryables-query-parameters`), each with its queryable's schema.
fn queryable_params(c: crate::http::ogc::Collection, geo: Option<&Geography>) -> Vec<Value> {
    use crate::http::cql2::QType;
    let list = match geo {
        Some(g) => crate::http::queryables::of(c, g),
        None => crate::http::queryables::build(c, Vec::new()),
    };
    crate::http::ogc::query_queryables(c, c.params())
        .into_iter()
        .filter_map(|n| list.0.iter().find(|q| q.name == n))
        .map(|q| {
            let mut schema = match q.qtype {
                QType::String => json!({"type": "string"}),
                QType::Integer => json!({"type": "integer"}),
                QType::Number => json!({"type": "number"}),
                QType::Boolean => json!({"type": "boolean"}),
                QType::Date => json!({"type": "string", "format": "date", "pattern": format!("^{}$", dates::filter_dates())}),
                QType::DateTime => json!({"type": "string", "format": "date-time"}),
                QType::Geometry => json!({}),
            };
            if let Some(v) = q.values.as_ref().filter(|v| !v.is_empty()) {
                schema["enum"] = json!(v);
            }
            let mut p = query(
                &q.name,
                &format!(
                    "only features whose {} equals this value (the queryable as a query parameter: the same as filter={} = <value>)",
                    q.name, q.name
                ),
                schema,
            );
            p["style"] = json!("form");
            p["explode"] = json!(false);
            p
        })
        .collect()
}

fn build(geo: Option<&Geography>) -> Value {
    use crate::http::{journeys as j, layers as l};
    let f = params_of(&["f"], "ogc").remove(0);
    let mut paths = serde_json::Map::new();
    let plain = |summary: &str, ok: &str| get(summary, vec![f.clone()], ok, "application/json");
    let mut root = get(
        "landing page (JSON), or the map page for a browser when one is served",
        vec![query(
            "f",
            "json: the OGC landing page; html: the map page (when served)",
            json!({"type": "string", "enum": ["json", "html"]}),
        )],
        "the landing page",
        "application/json",
    );
    root["get"]["responses"]["200"]["content"]["text/html"] = json!({"schema": {"type": "string"}});
    paths.insert("/".into(), root);
    paths.insert(
        "/conformance".into(),
        plain("conformance classes", "conformsTo"),
    );
    paths.insert(
        "/collections".into(),
        plain("the collections", "the collections"),
    );
    paths.insert(
        "/openapi".into(),
        get(
            "this document",
            vec![f.clone()],
            "OpenAPI 3.0",
            "application/vnd.oai.openapi+json;version=3.0",
        ),
    );
    for &c in COLLECTIONS {
        let mut params = params_of(c.params(), "ogc");
        if c.lists_stations() {
            for p in params.iter_mut().filter(|p| p["name"] == "force") {
                p["description"] = json!(describe("force", "places").0);
            }
        }
        // `code` filters a station by its CRS code or a force by its GSS code (or BTP): a
        // code of the other shape is refused (400), one of the right shape that names nothing
        // selects nothing (200), so each collection's `code` is the shape of its codes
        let code = match c {
            Collection::Forces => Some("^([A-Za-z][0-9]{8}|[Bb][Tt][Pp])$"),
            Collection::Stations | Collection::Hotspots => Some(STATION_CODE),
            Collection::Rail | Collection::Journeys | Collection::Flows => None,
        };
        for p in params.iter_mut().filter(|p| p["name"] == "code") {
            if let Some(code) = code {
                p["schema"] = json!({"type": "string", "pattern": code});
            }
        }
        paths.insert(
            format!("/collections/{c}"),
            get(
                c.title(),
                vec![f.clone()],
                "the collection",
                "application/json",
            ),
        );
        params.extend(queryable_params(c, geo));
        let mut items = get(
            c.description(),
            params,
            "a GeoJSON FeatureCollection",
            "application/geo+json",
        );
        untimed_member(&mut items, "application/geo+json");
        paths.insert(format!("/collections/{c}/items"), items);
        paths.insert(
            format!("/collections/{c}/queryables"),
            get(
                "the properties a filter may name (JSON Schema 2020-12)",
                vec![f.clone()],
                "the queryables",
                "application/schema+json",
            ),
        );
        let mut item_params = vec![param(
            "featureId",
            "path",
            "the feature id",
            json!({"type": "string"}),
            true,
        )];
        item_params.extend(params_of(&["f", "crs"], "ogc"));
        paths.insert(
            format!("/collections/{c}/items/{{featureId}}"),
            get(
                "one feature",
                item_params,
                "a GeoJSON Feature",
                "application/geo+json",
            ),
        );
    }
    paths.insert(
        "/health".into(),
        get(
            "health and data counts",
            vec![],
            "status",
            "application/json",
        ),
    );
    paths.insert(
        "/api/locate".into(),
        get(
            "the force and nearest stations of a point",
            vec![
                param(
                    "lon",
                    "query",
                    "longitude",
                    json!({"type": "number", "minimum": -180, "maximum": 180}),
                    true,
                ),
                param(
                    "lat",
                    "query",
                    "latitude",
                    json!({"type": "number", "minimum": -90, "maximum": 90}),
                    true,
                ),
                query(
                    "k",
                    "how many rows (stations or corridors), most first",
                    json!({"type": "integer", "minimum": 1, "maximum": 50, "default": 3}),
                ),
            ],
            "force and stations",
            "application/json",
        ),
    );
    let mut route = get(
        "rail route between stations, with the forces crossed",
        vec![
            param(
                "from",
                "query",
                "origin CRS",
                json!({"$ref": "#/components/schemas/StationCode"}),
                true,
            ),
            param(
                "to",
                "query",
                "destination CRS",
                json!({"$ref": "#/components/schemas/StationCode"}),
                true,
            ),
            {
                // a string, not an array with explode false: an empty `via` is no via
                // stations, where schemathesis reads it as one empty code
                let code = match geo {
                    Some(g) => {
                        let mut c: Vec<&str> = g
                            .stations
                            .stations()
                            .iter()
                            .map(|s| s.code.as_str())
                            .collect();
                        c.sort_unstable();
                        c.join("|")
                    }
                    None => STATION_CODE[2..STATION_CODE.len() - 2].to_string(),
                };
                let more = crate::http::handlers::MAX_VIA - 1;
                query(
                    "via",
                    "CRS codes, comma-separated (at most 20)",
                    json!({"type": "string", "pattern": format!("^(({code})(,({code})){{0,{more}}})?$")}),
                )
            },
        ],
        "a GeoJSON Feature",
        "application/geo+json",
    );
    route["get"]["responses"]["422"] = json!({"description": "no rail route: the stations are on disconnected parts of the network", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    paths.insert("/api/route".into(), route);
    paths.insert(
        "/api/stations/{crs}".into(),
        get(
            "one station",
            // the shape of a code: one of that shape that is not a station is a 404
            vec![param(
                "crs",
                "path",
                "station CRS",
                json!({"type": "string", "pattern": STATION_CODE}),
                true,
            )],
            "a GeoJSON Feature",
            "application/geo+json",
        ),
    );
    let mut journeys = get(
        "mapped journeys",
        params_of(j::LIST_PARAMS, "journeys"),
        "a GeoJSON FeatureCollection",
        "application/geo+json",
    );
    journeys["post"] = json!({
        "summary": "add journey reports: one (object), a batch (array) or NDJSON",
        "requestBody": {"required": true, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ReportOrBatch"}},
            "application/x-ndjson": {"schema": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/JourneyReport"}},
                "description": "one report per line (the items of this array, each a line)"}
        }},
        "responses": {
            "200": {"description": "already stored (identical): the mapped journey, or the batch result", "content": {"application/geo+json": {"schema": {"type": "object"}}, "application/json": {"schema": {"$ref": "#/components/schemas/BatchResult"}}}},
            "201": {"description": "stored and mapped: the mapped journey, or the batch result", "content": {"application/geo+json": {"schema": {"type": "object"}}, "application/json": {"schema": {"$ref": "#/components/schemas/BatchResult"}}}},
            "207": {"description": "a batch of which some records were refused", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BatchResult"}}}},
            "400": {"description": "not JSON", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "409": {"description": "report_id stored with different content", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "410": {"description": "report_id was erased: an erased id is not taken again", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "413": {"description": "body over 16 MiB", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "415": {"description": "unsupported content type", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "422": {"description": "invalid report(s), each problem with its field path: an Error for one report, the batch result when every record of a batch was refused", "content": {"application/json": {"schema": {"anyOf": [{"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/BatchResult"}]}}}},
            "503": {"description": "the store is unavailable", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
    });
    paths.insert("/api/journeys".into(), journeys);
    for (verb, what) in [
        (
            "restrict",
            "restricts a stored report: kept, but withheld from every layer, list, export and read except an admin's (admins; the reason in X-Justification)",
        ),
        (
            "unrestrict",
            "lifts a report's restriction (admins; the reason in X-Justification)",
        ),
    ] {
        let err = json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
        let with = |d: &str| {
            let mut e = err.clone();
            e["description"] = json!(d);
            e
        };
        paths.insert(
            format!("/api/journeys/{{report_id}}/{verb}"),
            json!({"post": {
                "summary": what,
                "parameters": [
                    param("report_id", "path", "the report id", report_id(), true),
                    param("X-Justification", "header", "the reason, kept with the restriction and in the audit log", json!({"type": "string", "minLength": 1, "maxLength": 500}), true),
                ],
                "responses": {
                    "200": {"description": "done: {report_id, restricted, reason, at}", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "403": with("not an admin, or no X-Justification"),
                    "404": with("no report with that id"),
                    "409": with("unrestrict: the report is not restricted"),
                    "503": with("the store is unavailable"),
                }
            }}),
        );
    }
    paths.insert(
        "/api/journeys/{report_id}".into(),
        get(
            "one mapped journey",
            vec![param(
                "report_id",
                "path",
                "the report id",
                report_id(),
                true,
            )],
            "a GeoJSON Feature",
            "application/geo+json",
        ),
    );
    if let Some(one) = paths.get_mut("/api/journeys/{report_id}") {
        one["delete"] = json!({
            "summary": "erases a report (admins; the reason in X-Justification): its content leaves the store, every layer, list and export, on every instance; a tombstone keeps the id, when, who and why; a later POST of the id is 410",
            "parameters": [
                param("report_id", "path", "the report id", report_id(), true),
                param("X-Justification", "header", "the reason, kept in the tombstone and in the audit log", json!({"type": "string", "minLength": 1, "maxLength": 500}), true),
            ],
            "responses": {
                "200": {"description": "erased: {report_id, erased, at, reason}", "content": {"application/json": {"schema": {"type": "object"}}}},
                "403": {"description": "not an admin, or no X-Justification", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "404": {"description": "no report with that id", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "410": {"description": "erased before", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "503": {"description": "the store is unavailable", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
    }
    // rectification, versions and review (issue 17): admins
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let id_param = || {
        param(
            "report_id",
            "path",
            "the report id",
            json!({"type": "string"}),
            true,
        )
    };
    let why = |d: &str| {
        param(
            "X-Justification",
            "header",
            d,
            json!({"type": "string", "minLength": 1, "maxLength": 500}),
            true,
        )
    };
    if let Some(one) = paths.get_mut("/api/journeys/{report_id}") {
        one["put"] = json!({
            "summary": "rectifies a report (admins; the reason in X-Justification): the body is the corrected report, validated as a POSTed one, its report_id the path's or left out; every layer, list and export uses it at once (other instances within a second); the earlier version stays readable at /versions; a restricted report stays restricted",
            "parameters": [id_param(), why("the reason, kept with the version and in the audit log")],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "description": "a journey report, schema v1 (as POST /api/journeys takes one)"}}}},
            "responses": {
                "200": {"description": "{report_id, version, changed (false: the report already had this content), at, journey}", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": err("not JSON, another report_id than the path's, or an invalid report (errors lists each problem)"),
                "403": err("not an admin, or no X-Justification"),
                "404": err("no report with that id"),
                "410": err("the report was erased"),
                "413": err("body over 16 MiB"),
                "415": err("not application/json"),
                "503": err("the store is unavailable"),
            }
        });
    }
    paths.insert(
        "/api/journeys/{report_id}/versions".into(),
        json!({"get": {
            "summary": "every version of a report, newest first (admins): version, current, at, actor and reason (null for the version as posted), and the report as it was, person ids as pseudonyms",
            "parameters": [id_param()],
            "responses": {
                "200": {"description": "{report_id, versions: [{version, current, at, actor, reason, report}]}", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": err("a query parameter (none is taken)"),
                "403": err("not an admin"),
                "404": err("no report with that id"),
                "410": err("the report was erased"),
            }
        }}),
    );
    paths.insert(
        "/api/review".into(),
        json!({"get": {
            "summary": "the reports due for review (MoPI; admins), oldest review date first: report_id, journey_date, review_date (journey date + serve --review-after, or the date a retain decision set), review_date_set, last_decision and decisions (newest first)",
            "parameters": [
                param("due_before", "query", "review dates before this day (default: tomorrow)", json!({"type": "string", "format": "date"}), false),
                param("limit", "query", "page size (1-10000, default 100)", json!({"type": "integer", "minimum": 1, "maximum": 10000}), false),
                param("offset", "query", "reports to skip", json!({"type": "integer", "minimum": 0}), false),
            ],
            "responses": {
                "200": {"description": "{due_before, review_after, numberMatched, numberReturned, reports}", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": err("a bad parameter"),
                "403": err("not an admin"),
            }
        }}),
    );
    paths.insert(
        "/api/review/{report_id}".into(),
        json!({"post": {
            "summary": "records a review decision (admins; X-Justification): {\"decision\": \"retain\", \"review_date\": \"YYYY-MM-DD\" (after today), \"reason\"} sets the next review date; {\"decision\": \"dispose\", \"reason\"} erases the report as DELETE does",
            "parameters": [id_param(), why("the caller's justification, in the audit log")],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["decision", "reason"], "properties": {"decision": {"type": "string", "enum": ["retain", "dispose"]}, "review_date": {"type": "string", "format": "date"}, "reason": {"type": "string", "minLength": 1, "maxLength": 2000}}, "additionalProperties": false}}}},
            "responses": {
                "200": {"description": "{report_id, decision, reason, at, and review_date (retain) or erased (dispose)}", "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": err("not a decision: its problem named"),
                "403": err("not an admin, or no X-Justification"),
                "404": err("no report with that id"),
                "410": err("the report was erased"),
                "413": err("body over 16 MiB"),
                "415": err("not application/json"),
                "503": err("the store is unavailable"),
            }
        }}),
    );
    let mut hot = params_of(l::HOTSPOT_PARAMS, "table");
    for p in hot
        .iter_mut()
        .filter(|p| p["name"] == "force" || p["name"] == "bbox")
    {
        let n = p["name"].as_str().unwrap_or_default().to_string();
        p["description"] = json!(describe(&n, "places").0);
    }
    paths.insert(
        "/api/hotspots".into(),
        get_table(
            "station hotspots: journeys starting, ending and passing, persons, children, rate per million entries and exits, Getis-Ord Gi* z, p-value and FDR significance",
            hot,
            "a GeoJSON FeatureCollection (or CSV)",
            "application/geo+json",
        ),
    );
    paths.insert(
        "/api/flows".into(),
        get_table(
            "force to force flows (by line direction: exporting force to the force supplied; or by travel: origin force to destination force), or the matrix",
            params_of(l::FLOW_PARAMS, "table"),
            "a GeoJSON FeatureCollection, {rows: [...]} or CSV",
            "application/geo+json",
        ),
    );
    paths["/api/flows"]["get"]["responses"]["200"]["content"]["application/json"] = json!({"schema": {"type": "object", "required": ["rows"], "properties": {"rows": {"type": "array", "items": {"type": "object"}}}}});
    paths.insert(
        "/api/corridors".into(),
        get_table(
            "station to station corridors (by line direction: hub station to market station): journeys, lines, return runs, people, seizures, grading, the via stations and their shares, the rail distance and the forces crossed",
            params_of(l::CORRIDOR_PARAMS, "table"),
            "a GeoJSON FeatureCollection (or CSV)",
            "application/geo+json",
        ),
    );
    paths.insert(
        "/api/trends".into(),
        get_table(
            "counts per week or month",
            params_of(l::TREND_PARAMS, "table"),
            "buckets (or CSV)",
            "application/json",
        ),
    );
    paths.insert(
        "/api/treatment".into(),
        get_table(
            "how each force treats the people it meets: encounters, distinct persons, recognised as victim, safeguarding and NRM referrals, arrests, charges, NFA, their rates and funnel positions against the national rate, and recording completeness per recording force",
            params_of(crate::http::people::TREATMENT_PARAMS, "table"),
            "{by, group, national, rows: [...], completeness: [...]} (or CSV)",
            "application/json",
        ),
    );
    paths.insert(
        "/api/people".into(),
        get(
            "people seen again (analysts and admins, with X-Justification; audited): pseudonymised persons with their journeys, force areas, treatment and signals",
            params_of(crate::http::people::PEOPLE_PARAMS, "people"),
            "{numberMatched, numberReturned, people: [...]}",
            "application/json",
        ),
    );
    let mut person_params = vec![param(
        "psn",
        "path",
        "the person's pseudonym (psn_ and 16 hex digits)",
        json!({"type": "string", "pattern": "^psn_[0-9a-f]{16}$"}),
        true,
    )];
    person_params.extend(params_of(crate::http::people::PERSON_PARAMS, "people"));
    paths.insert(
        "/api/people/{psn}".into(),
        get(
            "one person's journeys in date order with their summary (analysts and admins, with X-Justification; audited)",
            person_params,
            "a GeoJSON FeatureCollection with the person's summary",
            "application/geo+json",
        ),
    );
    paths.insert(
        "/api/hotspots/emerging".into(),
        get(
            "emerging hot spots: per station the space-time Gi* z of each period, the Mann-Kendall trend of that series and its category",
            params_of(l::EMERGING_PARAMS, "places"),
            "a GeoJSON FeatureCollection of stations with category, trend_z, trend_p, gi_z and bins per period",
            "application/geo+json",
        ),
    );
    paths.insert(
        "/api/clock".into(),
        get(
            "the selected journeys by local day of week and hour (Europe/London, GMT or BST as the date requires), Monday first; a journey known only within a time window is spread over the hours it covers (aoristic weights)",
            params_of(l::CLOCK_PARAMS, "clock"),
            "{timezone, days, timed, untimed, cells: 7 rows x 24 hours}",
            "application/json",
        ),
    );
    let mut export = get_table(
        "download a collection under a filter (streamed)",
        params_of(super::export::EXPORT_PARAMS, "export"),
        "an attachment: GeoJSON or CSV",
        "application/geo+json",
    );
    untimed_member(&mut export, "application/geo+json");
    export["get"]["responses"]["200"]["headers"] = json!({
        "X-Untimed-Excluded": {
            "description": "with hours or days, in every format: the journeys left out for having no time, published as the untimed_excluded member is (suppressed for a viewer's count below 5); absent without them",
            "schema": {"type": "string", "pattern": "^([0-9]+|suppressed)$"},
        },
    });
    paths.insert("/api/export".into(), export);
    paths.insert(
        "/api/auth/config".into(),
        get(
            "how the page signs in (no sign-in needed): {sso: false}, or with single sign-on {sso: true, issuer, client_id, authorization_endpoint, token_endpoint, end_session_endpoint, scopes, bearer: id_token|access_token}",
            vec![],
            "the page's sign-in",
            "application/json",
        ),
    );
    paths.insert(
        "/api/vocabulary".into(),
        get(
            "every closed vocabulary (no sign-in needed): the journey report's enumerations (mode, age_band, role, statuses, flags, encounter and line types, drugs, concealment, weapons, grading), child_age_band (the bands under 18), the audit actions, and the words of the measure and day parameters; each an array of words in order",
            vec![],
            "the vocabularies",
            "application/json",
        ),
    );
    paths.insert(
        "/api/whoami".into(),
        get(
            "the caller: name, role, and what the role sees (disclosure control, journeys, person summaries); and the server's protective marking (`marking`, `serve --marking`) for what the page prints",
            vec![],
            "who is asking",
            "application/json",
        ),
    );
    paths.insert(
        "/api/audit".into(),
        get(
            "the audit log (admins): every journey-level read, export and ingest, oldest first",
            params_of(
                &["actor", "action", "since", "until", "limit", "offset"],
                "audit",
            ),
            "{numberMatched, numberReturned, events: [...]}",
            "application/json",
        ),
    );
    for (path, media) in [
        ("/api/journeys", "application/geo+json"),
        ("/api/hotspots", "application/geo+json"),
        ("/api/flows", "application/geo+json"),
        ("/api/flows", "application/json"),
        ("/api/trends", "application/json"),
        ("/api/clock", "application/json"),
        ("/api/hotspots/emerging", "application/geo+json"),
    ] {
        if let Some(op) = paths.get_mut(path) {
            untimed_member(op, media);
        }
    }
    tile_paths(&mut paths, &f);
    secure(&mut paths);
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {
            "title": "linesmap",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "County-lines journeys across police force areas and the GB rail network: OGC API - Features (Part 1 Core, GeoJSON, OAS 3.0; Part 2 CRS) and the linesmap analysis API. Demo data is synthetic.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "security": [{"bearer": []}],
        "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "a token from `linesmap token create`, or a JWT from the OpenID Connect provider the server is given (`--oidc-issuer`); roles viewer, btp_planner, analyst, force_analyst, admin"}},
        "schemas": {
            "Error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "object", "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}}
            }},
            "BatchResult": {"type": "object", "required": ["created", "existing", "rejected", "results"], "properties": {
                "created": {"type": "integer"}, "existing": {"type": "integer"}, "rejected": {"type": "integer"},
                "results": {"type": "array", "items": {"type": "object"}}
            }},
            "ReportOrBatch": {"oneOf": [{"$ref": "#/components/schemas/JourneyReport"}, {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/JourneyReport"}}],
                "description": "a journey report (data/journey-report.schema.json) or a non-empty array of them"}
        }}
    });
    let schemas = &mut doc["components"]["schemas"];
    schemas["StationCode"] = codes(
        geo.map(|g| {
            g.stations
                .stations()
                .iter()
                .map(|s| s.code.as_str())
                .collect()
        }),
        STATION_CODE,
        "a station's code: its three-letter CRS code (or osm:<node id> for a station without one)",
    );
    schemas["ForceCode"] = codes(
        geo.map(|g| g.forces.forces().iter().map(|f| f.code.as_str()).collect()),
        "^[EWSNewsn][0-9]{8}$",
        "a police force area's GSS code",
    );
    for (name, schema) in report::schemas() {
        schemas[name] = schema;
    }
    doc
}

/// OGC API - Tiles: the tile matrix sets, and each tiled collection's tilesets and tiles.
fn tile_paths(paths: &mut serde_json::Map<String, Value>, f: &Value) {
    use super::tiles::{FLOW_TILE_PARAMS, MVT, TILE_COLLECTIONS, TILE_PARAMS};
    use crate::layers::tiles::MAX_ZOOM;
    let plain = |summary: &str, ok: &str| get(summary, vec![f.clone()], ok, "application/json");
    paths.insert(
        "/tileMatrixSets".into(),
        plain("the tile matrix sets (WebMercatorQuad)", "the list"),
    );
    paths.insert(
        "/tileMatrixSets/WebMercatorQuad".into(),
        plain(
            "the WebMercatorQuad tile matrix set (OGC 2D TMS)",
            "the definition",
        ),
    );
    for id in TILE_COLLECTIONS {
        paths.insert(
            format!("/collections/{id}/tiles"),
            plain("the collection's vector tilesets", "the tilesets"),
        );
        paths.insert(
            format!("/collections/{id}/tiles/WebMercatorQuad"),
            plain(
                "the tileset's metadata: layer, properties, zoom limits, the tile URL template",
                "the tileset",
            ),
        );
        let n = |name: &str, d: &str, max: Option<u64>| {
            let mut schema = json!({"type": "integer", "minimum": 0});
            if let Some(m) = max {
                schema["maximum"] = json!(m);
            }
            param(name, "path", d, schema, true)
        };
        let mut params = vec![
            n("z", "zoom (OGC tileMatrix)", Some(u64::from(MAX_ZOOM))),
            n(
                "x",
                "column from the west, 0 to 2^z - 1 (OGC tileCol; our path is {z}/{x}/{y})",
                Some((1u64 << MAX_ZOOM) - 1),
            ),
            n(
                "y",
                "row from the north, 0 to 2^z - 1 (OGC tileRow)",
                Some((1u64 << MAX_ZOOM) - 1),
            ),
        ];
        let names = if *id == Collection::Flows {
            FLOW_TILE_PARAMS
        } else {
            TILE_PARAMS
        };
        let context = if id.lists_stations() {
            "places"
        } else {
            "tiles"
        };
        for mut p in params_of(names, context) {
            if p["name"] == "f" {
                p["description"] = json!("mvt: a Mapbox Vector Tile (the only format)");
                p["schema"] = json!({"type": "string", "enum": ["mvt"]});
            }
            if p["name"] == "datetime" {
                p["description"] = json!(
                    "journey dates: an instant or an interval (`..` open); instead of from and to"
                );
            }
            params.push(p);
        }
        let mut op = get(
            "a vector tile (Mapbox Vector Tile, one layer named after the collection)",
            params,
            "the tile (an empty tile with its layer where nothing is)",
            MVT,
        );
        op["get"]["responses"]["200"]["content"] =
            json!({MVT: {"schema": {"type": "string", "format": "binary"}}});
        op["get"]["description"] = json!(format!(
            "The path is {{z}}/{{x}}/{{y}}: zoom, then column (x, OGC tileCol), then row (y, OGC tileRow), as XYZ clients fill it. {}",
            if id.journey_level() {
                "Journey-level (btp_planner and above, audited); below zoom 12 one feature per route geometry with journeys and children, from zoom 12 one per journey with id."
            } else {
                "Built from the features the items give the caller over the tile's box (a viewer's after disclosure control)."
            }
        ));
        paths.insert(
            format!("/collections/{id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"),
            op,
        );
    }
}

/// A number from -180 to 180 and one from -90 to 90, as the server reads them.
const LON: &str = r"-?(180(\.0+)?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]+)?)";
const LAT: &str = r"-?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?)";

/// A lon/lat box: four numbers within the world, min lon, min lat, max lon, max lat. That the
/// minimum comes first no schema can say: a box whose south edge is north of its north edge
/// stays a 400 naming the problem.
fn lonlat_box() -> String {
    format!("^{LON},{LAT},{LON},{LAT}$")
}

/// The shape of a station code (`StationCode::parse`).
const STATION_CODE: &str = "^([A-Za-z]{3}|osm:[0-9]+)$";

/// A report id: the journey-report schema's pattern.
fn report_id() -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[A-Za-z0-9][A-Za-z0-9_.:-]*$"})
}

/// The enumeration of the known codes when a geography is given, else their shape.
fn codes(known: Option<Vec<&str>>, pattern: &str, description: &str) -> Value {
    match known {
        Some(mut known) => {
            known.sort_unstable();
            json!({"type": "string", "enum": known, "description": description})
        }
        None => json!({"type": "string", "pattern": pattern, "description": description}),
    }
}

/// What each operation needs comes from the endpoint table (`http::endpoint`): public
/// operations need no sign-in (`security: []`); the others list the answers of the gate: 401
/// signed out, 403 wrong role (or no justification), 414/431 oversized, 429 rate limited, 503
/// when the audit log cannot be written; journey- and person-level reads take the
/// `X-Justification` header.
fn secure(paths: &mut serde_json::Map<String, Value>) {
    let err = json!({"description": "a JSON error naming the problem", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    for (path, item) in paths.iter_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in ops.iter_mut() {
            // a path template resolves as a path whose parameters are the `{names}`
            let route = super::endpoint::resolve(&method.to_ascii_uppercase(), path, "");
            if route.need == crate::access::Need::Public {
                op["security"] = json!([]);
                continue;
            }
            for code in ["401", "403", "414", "429", "503"] {
                op["responses"][code] = err.clone();
            }
            let Some(ps) = op.get_mut("parameters").and_then(Value::as_array_mut) else {
                continue;
            };
            let has = ps.iter().any(|p| p["name"] == "X-Justification");
            if (route.journey_level() || route.person_level()) && !has {
                ps.push(json!({"name": "X-Justification", "in": "header", "required": false,
                        "description": "why you need person-level data (required with persons=true and on /api/people); written to the audit log",
                        "schema": {"type": "string", "maxLength": 500}}));
            }
        }
    }
}

/// Patterns for dates within the server's bounds: reports and filters take dates from
/// 2000-01-01 (`EARLIEST_DATE`) to 366 days after today (`MAX_DAYS_AHEAD`), real calendar
/// dates only (2024-02-30 is refused). The bound moves with the day; the document is built
/// when the server starts, so after midnight it is a day stricter than the server, never looser.
mod dates {
    use time::{Date, Duration, Month};

    fn latest() -> Date {
        crate::layers::date_of(crate::http::layers::today() + crate::http::journeys::MAX_DAYS_AHEAD)
    }

    /// The journey-date filters (`from`, `to`, `datetime`'s dates).
    pub fn filter_dates() -> String {
        range(crate::journey::report::EARLIEST_DATE, latest())
    }

    /// The days of a month, `01` to `n`, as a group.
    fn whole_month(n: u8) -> &'static str {
        match n {
            28 => "(0[1-9]|1[0-9]|2[0-8])",
            29 => "(0[1-9]|1[0-9]|2[0-9])",
            30 => "(0[1-9]|[12][0-9]|30)",
            _ => "(0[1-9]|[12][0-9]|3[01])",
        }
    }

    /// Every calendar date from `lo` to `hi`, both included, as YYYY-MM-DD: a group without
    /// anchors. Whole years share one alternative per leap-ness; the first and last years
    /// are written month by month.
    pub fn range(lo: Date, hi: Date) -> String {
        if lo > hi {
            return "(?!)".into();
        }
        const COMMON: &str =
            "(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31";
        let (mut leap, mut common) = (Vec::new(), Vec::new());
        let mut parts = Vec::new();
        for y in lo.year()..=hi.year() {
            let first = Date::from_calendar_date(y, Month::January, 1).ok();
            let last = Date::from_calendar_date(y, Month::December, 31).ok();
            if first.is_some_and(|f| f >= lo) && last.is_some_and(|l| l <= hi) {
                if time::util::is_leap_year(y) {
                    leap.push(format!("{y:04}"));
                } else {
                    common.push(format!("{y:04}"));
                }
                continue;
            }
            let mut months = Vec::new();
            for m in 1..=12u8 {
                let Ok(month) = Month::try_from(m) else {
                    continue;
                };
                let n = time::util::days_in_month(month, y);
                let from = if (y, m) == (lo.year(), lo.month() as u8) {
                    lo.day()
                } else if (y, m) < (lo.year(), lo.month() as u8) {
                    continue;
                } else {
                    1
                };
                let to = if (y, m) == (hi.year(), hi.month() as u8) {
                    hi.day()
                } else if (y, m) > (hi.year(), hi.month() as u8) {
                    continue;
                } else {
                    n
                };
                let days = if from == 1 && to == n {
                    whole_month(n).to_string()
                } else {
                    let d: Vec<String> = (from..=to).map(|d| format!("{d:02}")).collect();
                    format!("({})", d.join("|"))
                };
                months.push(format!("{m:02}-{days}"));
            }
            parts.push(format!("{y:04}-({})", months.join("|")));
        }
        if !leap.is_empty() {
            parts.push(format!("({})-({COMMON}|02-29)", leap.join("|")));
        }
        if !common.is_empty() {
            parts.push(format!("({})-({COMMON})", common.join("|")));
        }
        format!("({})", parts.join("|"))
    }

    /// An RFC 3339 time of day with its offset, as the server reads it.
    const TIME: &str = r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";

    /// A date-time whose date is from `lo` to `hi` in any offset: the date written may be a
    /// day either side of the UTC date the server checks, so the dates are a day narrower.
    pub fn date_time(lo: Date, hi: Date) -> String {
        let lo = lo.saturating_add(Duration::days(1));
        let hi = hi.saturating_sub(Duration::days(1));
        format!("{}{TIME}", range(lo, hi))
    }

    /// `datetime`: empty (no filter), an instant (a date or a date-time), or an interval
    /// `start/end` whose ends are dates, date-times, `..` or nothing (open). That the end is
    /// not before the start no schema can say: that stays a 400 naming the problem.
    pub fn datetime_pattern() -> String {
        let d = filter_dates();
        let dt = date_time(crate::journey::report::EARLIEST_DATE, latest());
        let instant = format!("({d}|{dt})");
        let end = format!("({d}|{dt}|\\.\\.)?");
        format!("^({instant}|{end}/{end})?$")
    }

    #[cfg(test)]
    mod tests {
        use time::macros::date;

        fn matches(lo: time::Date, hi: time::Date, s: &str) -> bool {
            regex::Regex::new(&format!("^{}$", super::range(lo, hi)))
                .unwrap()
                .is_match(s)
        }

        #[test]
        fn a_date_range_pattern_takes_exactly_the_calendar_dates_between_its_bounds() {
            // bounds picked by hand: a leap year whole, partial first and last years
            let (lo, hi) = (date!(2023 - 11 - 29), date!(2025 - 03 - 02));
            for ok in [
                "2023-11-29",
                "2023-12-31",
                "2024-02-29",
                "2024-12-31",
                "2025-02-28",
                "2025-03-02",
            ] {
                assert!(matches(lo, hi, ok), "{ok}");
            }
            for no in [
                "2023-11-28",
                "2023-11-31",
                "2025-02-29",
                "2025-03-03",
                "2024-02-30",
                "2024-13-01",
                "2024-00-10",
                "2026-01-01",
            ] {
                assert!(!matches(lo, hi, no), "{no}");
            }
            // 2000 is a leap year (divisible by 400), 2100 is not
            assert!(matches(
                date!(2000 - 01 - 01),
                date!(2101 - 01 - 01),
                "2000-02-29"
            ));
            assert!(!matches(
                date!(2000 - 01 - 01),
                date!(2101 - 01 - 01),
                "2100-02-29"
            ));
        }
    }
}

/// The journey-report schema (data/journey-report.schema.json, JSON Schema 2020-12) as
/// OpenAPI 3.0 schema objects: `$defs` become components (`JourneyReport.place`, …), `const`
/// becomes a one-value `enum`, and a station or force code refers to the enumerations of the
/// known codes (`StationCode`, `ForceCode`), as the server refuses unknown ones (422). The
/// report's date is a real date from 2000-01-01 to today and `reported_at` a time before now,
/// as the server checks.
mod report {
    use serde_json::{Value, json};

    const SCHEMA: &str = include_str!("../../data/journey-report.schema.json");

    fn rewrite(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    let to = match r.strip_prefix("#/$defs/") {
                        Some("crs") => "#/components/schemas/StationCode".to_string(),
                        Some("force") => "#/components/schemas/ForceCode".to_string(),
                        Some(name) => format!("#/components/schemas/JourneyReport.{name}"),
                        None => r.clone(),
                    };
                    // a reference's siblings are ignored in OpenAPI 3.0: keep only the reference
                    *v = json!({"$ref": to});
                    return;
                }
                if let Some(c) = m.remove("const") {
                    m.insert("enum".into(), json!([c]));
                }
                for (_, x) in m.iter_mut() {
                    rewrite(x);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(rewrite),
            _ => {}
        }
    }

    /// `(name, schema)` of the report and of its definitions.
    pub fn schemas() -> Vec<(String, Value)> {
        let Ok(mut root) = serde_json::from_str::<Value>(SCHEMA) else {
            return Vec::new();
        };
        let defs = root
            .as_object_mut()
            .and_then(|m| {
                m.remove("$schema");
                m.remove("$id");
                m.remove("$defs")
            })
            .unwrap_or_default();
        let today = crate::layers::date_of(crate::http::layers::today());
        let earliest = crate::journey::report::EARLIEST_DATE;
        root["properties"]["journey"]["properties"]["date"]["pattern"] =
            json!(format!("^{}$", super::dates::range(earliest, today)));
        root["properties"]["reported_at"]["pattern"] = json!(format!(
            "^{}$",
            super::dates::date_time(earliest, today.saturating_sub(time::Duration::days(1)))
        ));
        rewrite(&mut root);
        let mut out = vec![("JourneyReport".to_string(), root)];
        if let Value::Object(defs) = defs {
            for (name, mut schema) in defs {
                if name == "crs" || name == "force" {
                    continue;
                }
                rewrite(&mut schema);
                out.push((format!("JourneyReport.{name}"), schema));
            }
        }
        out
    }
}
