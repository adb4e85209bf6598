//! The API definition, OpenAPI 3.0.3, written by hand (generators emit 3.1, which the OGC
//! conformance suite cannot read). Built once and served at `/openapi`.

use super::ogc::{COLLECTIONS, DEFAULT_LIMIT, MAX_LIMIT};
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
        "400": err.clone(),
        "404": err.clone(),
        "500": err,
    })
}

fn get(summary: &str, params: Vec<Value>, ok: &str, media: &str) -> Value {
    json!({"get": {"summary": summary, "parameters": params, "responses": responses(ok, media)}})
}

/// The OpenAPI document as JSON bytes.
pub fn document() -> &'static [u8] {
    static DOC: OnceLock<Vec<u8>> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_vec(&build()).unwrap_or_default())
}

fn build() -> Value {
    let bbox = query(
        "bbox",
        "only features whose geometry intersects this box: min lon, min lat, max lon, max lat (CRS84); 6 numbers are accepted and the heights ignored",
        json!({"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}),
    );
    let bbox = {
        let mut b = bbox;
        b["style"] = json!("form");
        b["explode"] = json!(false);
        b
    };
    let datetime = query(
        "datetime",
        "an instant (date or RFC 3339 date-time) or an interval start/end with .. for an open end; matched against journey dates",
        json!({"type": "string"}),
    );
    let limit = query(
        "limit",
        "most features in the response",
        json!({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
    );
    let offset = query(
        "offset",
        "features to skip",
        json!({"type": "integer", "minimum": 0, "default": 0}),
    );
    let f = query(
        "f",
        "output format (only json)",
        json!({"type": "string", "enum": ["json"]}),
    );
    let mut paths = serde_json::Map::new();
    paths.insert(
        "/".into(),
        get(
            "landing page",
            vec![f.clone()],
            "the landing page",
            "application/json",
        ),
    );
    paths.insert(
        "/conformance".into(),
        get(
            "conformance classes",
            vec![f.clone()],
            "conformsTo",
            "application/json",
        ),
    );
    paths.insert(
        "/collections".into(),
        get(
            "the collections",
            vec![f.clone()],
            "the collections",
            "application/json",
        ),
    );
    paths.insert(
        "/openapi".into(),
        get(
            "this document",
            vec![],
            "OpenAPI 3.0",
            "application/vnd.oai.openapi+json;version=3.0",
        ),
    );
    for c in COLLECTIONS {
        let mut params = vec![
            bbox.clone(),
            datetime.clone(),
            limit.clone(),
            offset.clone(),
            f.clone(),
        ];
        for &name in c.filters {
            let (desc, schema) = match name {
                "crs" => (
                    "station CRS code",
                    json!({"type": "string", "pattern": "^[A-Za-z]{3}$"}),
                ),
                "force" => ("GSS code of a police force area", json!({"type": "string"})),
                "code" => ("GSS code of the force", json!({"type": "string"})),
                _ => (
                    "true or false",
                    json!({"type": "string", "enum": ["true", "false"]}),
                ),
            };
            params.push(query(name, desc, schema));
        }
        paths.insert(
            format!("/collections/{}", c.id),
            get(
                c.title,
                vec![f.clone()],
                "the collection",
                "application/json",
            ),
        );
        paths.insert(
            format!("/collections/{}/items", c.id),
            get(
                c.description,
                params,
                "a GeoJSON FeatureCollection",
                "application/geo+json",
            ),
        );
        paths.insert(
            format!("/collections/{}/items/{{featureId}}", c.id),
            get(
                "one feature",
                vec![
                    param(
                        "featureId",
                        "path",
                        "the feature id",
                        json!({"type": "string"}),
                        true,
                    ),
                    f.clone(),
                ],
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
                    "how many stations",
                    json!({"type": "integer", "minimum": 1, "maximum": 50, "default": 3}),
                ),
            ],
            "force and stations",
            "application/json",
        ),
    );
    paths.insert(
        "/api/route".into(),
        get(
            "rail route between stations, with the forces crossed",
            vec![
                param(
                    "from",
                    "query",
                    "origin CRS",
                    json!({"type": "string"}),
                    true,
                ),
                param(
                    "to",
                    "query",
                    "destination CRS",
                    json!({"type": "string"}),
                    true,
                ),
                query(
                    "via",
                    "CRS codes, comma-separated",
                    json!({"type": "string"}),
                ),
            ],
            "a GeoJSON Feature",
            "application/geo+json",
        ),
    );
    paths.insert(
        "/api/stations/{crs}".into(),
        get(
            "one station",
            vec![param(
                "crs",
                "path",
                "station CRS",
                json!({"type": "string"}),
                true,
            )],
            "a GeoJSON Feature",
            "application/geo+json",
        ),
    );
    let mut journeys = get(
        "mapped journeys",
        vec![
            query(
                "bbox",
                "min lon, min lat, max lon, max lat",
                json!({"type": "string"}),
            ),
            query(
                "from",
                "first date, YYYY-MM-DD",
                json!({"type": "string", "format": "date"}),
            ),
            query(
                "to",
                "last date, YYYY-MM-DD",
                json!({"type": "string", "format": "date"}),
            ),
            query("force", "GSS code", json!({"type": "string"})),
            query(
                "cross_border",
                "true or false",
                json!({"type": "string", "enum": ["true", "false"]}),
            ),
            query(
                "limit",
                "page size",
                json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}),
            ),
            query(
                "offset",
                "features to skip",
                json!({"type": "integer", "minimum": 0}),
            ),
        ],
        "a GeoJSON FeatureCollection",
        "application/geo+json",
    );
    journeys["post"] = json!({
        "summary": "add journey reports: one (object), a batch (array) or NDJSON",
        "requestBody": {"required": true, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ReportOrBatch"}},
            "application/x-ndjson": {"schema": {"type": "string"}}
        }},
        "responses": {
            "200": {"description": "already stored (identical)", "content": {"application/geo+json": {"schema": {"type": "object"}}}},
            "201": {"description": "stored and mapped", "content": {"application/geo+json": {"schema": {"type": "object"}}}},
            "207": {"description": "a batch of which some records were refused", "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": {"description": "not JSON", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "409": {"description": "report_id stored with different content", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "413": {"description": "body over 16 MiB", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "415": {"description": "unsupported content type", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "422": {"description": "invalid report(s), each problem with its field path", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
            "503": {"description": "the store is unavailable", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        }
    });
    paths.insert("/api/journeys".into(), journeys);
    paths.insert(
        "/api/journeys/{report_id}".into(),
        get(
            "one mapped journey",
            vec![param(
                "report_id",
                "path",
                "the report id",
                json!({"type": "string"}),
                true,
            )],
            "a GeoJSON Feature",
            "application/geo+json",
        ),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "linesmap",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "County-lines journeys across police force areas and the GB rail network: OGC API - Features (Part 1 Core, GeoJSON, OAS 3.0) and the linesmap analysis API. Demo data is synthetic.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "object", "properties": {"path": {"type": "string"}, "message": {"type": "string"}}}}
            }},
            "ReportOrBatch": {"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
                "description": "a journey report (see data/journey-report.schema.json) or an array of them"}
        }}
    })
}
