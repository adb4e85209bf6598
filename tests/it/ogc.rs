//! OGC API – Features Part 1 requirements (Core, GeoJSON, OAS30), transcribed from the
//! abstract test suite, in-process on the GB data.

use super::common::{data_dir, fresh_state};
use linesmap::http::{AppState, routes};
use serde_json::{Value, json};
use std::sync::Arc;

async fn get(state: &Arc<AppState>, path: &str) -> (u16, Value, String) {
    let r = warp::test::request()
        .path(path)
        .header("host", "example.test:8080")
        .reply(&routes(state.clone()))
        .await;
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (
        r.status().as_u16(),
        serde_json::from_slice(r.body()).unwrap_or(Value::Null),
        ct,
    )
}

fn rels(v: &Value) -> Vec<(String, String)> {
    v["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["rel"].as_str().unwrap().to_string(),
                l["href"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Stations in a box, counted straight from stations.csv (an independent count).
fn csv_stations_in(b: [f64; 4]) -> usize {
    let mut rdr = csv::Reader::from_path(data_dir().join("stations.csv")).unwrap();
    let header = rdr.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (ilat, ilon) = (col("lat"), col("lon"));
    rdr.records()
        .map(|r| r.unwrap())
        .filter(|r| {
            let (lat, lon): (f64, f64) = (r[ilat].parse().unwrap(), r[ilon].parse().unwrap());
            lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3]
        })
        .count()
}

#[tokio::test]
async fn the_landing_page_links_the_api_definition_conformance_and_data() {
    let st = fresh_state();
    let (s, v, ct) = get(&st, "/").await;
    assert_eq!((s, ct.as_str()), (200, "application/json"));
    let links = v["links"].as_array().unwrap();
    let desc = links.iter().find(|l| l["rel"] == "service-desc").unwrap();
    assert_eq!(desc["type"], "application/vnd.oai.openapi+json;version=3.0");
    assert_eq!(desc["href"], "http://example.test:8080/openapi");
    assert!(links.iter().any(|l| l["rel"] == "conformance"));
    assert!(
        links
            .iter()
            .any(|l| l["rel"] == "data" && l["href"] == "http://example.test:8080/collections")
    );
    let (s, c, _) = get(&st, "/conformance").await;
    assert_eq!(s, 200);
    let classes: Vec<&str> = c["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    for want in ["core", "geojson", "oas30"] {
        assert!(classes.contains(
            &format!("http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{want}").as_str()
        ));
    }
}

#[tokio::test]
async fn the_api_definition_is_openapi_3_0_with_every_collection_path() {
    let st = fresh_state();
    let r = warp::test::request()
        .path("/openapi")
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.oai.openapi+json;version=3.0"
    );
    let doc: Value = serde_json::from_slice(r.body()).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    for id in ["stations", "forces", "journeys"] {
        let items = &doc["paths"][format!("/collections/{id}/items")]["get"];
        let limit = items["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap();
        assert_eq!(
            limit["schema"],
            json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 10})
        );
    }
}

#[tokio::test]
async fn collections_have_items_links_and_extents() {
    let st = fresh_state();
    let (s, v, _) = get(&st, "/collections").await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = v["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "stations", "forces", "rail", "journeys", "hotspots", "flows"
        ]
    );
    for c in v["collections"].as_array().unwrap() {
        assert!(
            rels(c)
                .iter()
                .any(|(r, h)| r == "items" && h.ends_with("/items"))
        );
        assert_eq!(
            c["extent"]["spatial"]["crs"],
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        );
        assert_eq!(
            c["extent"]["spatial"]["bbox"][0].as_array().unwrap().len(),
            4
        );
    }
    let (s, one, _) = get(&st, "/collections/stations").await;
    assert_eq!((s, one["id"].as_str()), (200, Some("stations")));
    assert_eq!(get(&st, "/collections/nope").await.0, 404);
}

#[tokio::test]
async fn station_items_in_the_ets_bbox_page_with_correct_counts() {
    let st = fresh_state();
    // the conformance suite's FeaturesBBox test box
    let want = csv_stations_in([-1.5, 50.0, 1.5, 53.0]);
    assert!(want > 500);
    let (s, v, ct) = get(&st, "/collections/stations/items?bbox=-1.5,50.0,1.5,53.0").await;
    assert_eq!((s, ct.as_str()), (200, "application/geo+json"));
    assert_eq!(v["type"], "FeatureCollection");
    assert_eq!(v["numberMatched"].as_u64(), Some(want as u64));
    assert_eq!(v["numberReturned"], 10, "default limit is 10");
    assert_eq!(v["features"].as_array().unwrap().len(), 10);
    let links = rels(&v);
    let next = &links.iter().find(|(r, _)| r == "next").unwrap().1;
    assert!(next.contains("offset=10") && next.contains("bbox="));
    // walk every page: the pages hold each station once, numberMatched in all
    let mut seen = std::collections::HashSet::new();
    let mut offset = 0;
    while offset < want {
        let (_, page, _) = get(
            &st,
            &format!(
                "/collections/stations/items?bbox=-1.5,50.0,1.5,53.0&limit=1000&offset={offset}"
            ),
        )
        .await;
        for f in page["features"].as_array().unwrap() {
            assert!(seen.insert(f["id"].as_str().unwrap().to_string()));
            let c = &f["geometry"]["coordinates"];
            let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            assert!((-1.5..=1.5).contains(&lon) && (50.0..=53.0).contains(&lat));
        }
        offset += 1000;
    }
    assert_eq!(seen.len(), want);
}

#[tokio::test]
async fn items_refuse_unknown_and_invalid_parameters() {
    let st = fresh_state();
    for q in [
        "colour=red",
        "limit=0",
        "limit=10001",
        "bbox=1,2,3",
        "datetime=yesterday",
        "offset=-1",
        "crs=EUST",
        "crs=http://www.opengis.net/def/crs/EPSG/0/3857",
        "bbox-crs=EPSG:27700",
        "bbox=1,2,0,3",
        "code=E",
    ] {
        let (s, v, _) = get(&st, &format!("/collections/stations/items?{q}")).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert!(v["message"].is_string());
    }
    assert_eq!(
        get(&st, "/collections/forces/items?code=EUS").await.0,
        400,
        "a station code is not a force code"
    );
    assert_eq!(get(&st, "/collections/stations/items/XQZ").await.0, 404);
}

#[tokio::test]
async fn one_feature_has_self_and_collection_links() {
    let st = fresh_state();
    let (s, f, ct) = get(&st, "/collections/stations/items/EUS").await;
    assert_eq!((s, ct.as_str()), (200, "application/geo+json"));
    assert_eq!(f["properties"]["force"], "E23000001");
    let links = rels(&f);
    assert!(links.iter().any(
        |(r, h)| r == "self" && h == "http://example.test:8080/collections/stations/items/EUS"
    ));
    assert!(links.iter().any(|(r, _)| r == "collection"));
    let (s, f, _) = get(&st, "/collections/forces/items/E23000034").await;
    assert_eq!(s, 200);
    assert_eq!(f["geometry"]["type"], "MultiPolygon");
    let ring = f["geometry"]["coordinates"][0][0].as_array().unwrap();
    assert_eq!(ring.first(), ring.last(), "GeoJSON rings are closed");
}

#[tokio::test]
async fn journey_counts_reach_stations_and_forces_and_datetime_selects() {
    let st = fresh_state();
    let report = |id: &str, from: &str, to: &str, date: &str| {
        json!({"report_id": id, "reported_at": "2024-06-01T00:00:00Z", "source_force": "BTP",
               "journey": {"date": date, "mode": "rail", "origin": {"station": from}, "destination": {"station": to}}})
    };
    let batch = json!([
        report("o1", "EUS", "NRW", "2024-01-10"),
        report("o2", "EUS", "NRW", "2024-02-10"),
        report("o3", "LIV", "BPN", "2024-03-10"),
    ]);
    let r = warp::test::request()
        .method("POST")
        .path("/api/journeys")
        .header("content-type", "application/json")
        .body(batch.to_string())
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(r.status(), 201);
    let (_, nrw, _) = get(&st, "/collections/stations/items/NRW").await;
    assert_eq!(
        (
            nrw["properties"]["ends"].as_u64(),
            nrw["properties"]["starts"].as_u64()
        ),
        (Some(2), Some(0))
    );
    let (_, eus, _) = get(
        &st,
        "/collections/stations/items?code=EUS&datetime=2024-02-01/..",
    )
    .await;
    assert_eq!(eus["features"][0]["properties"]["starts"], 1);
    // Met exports 2 (Euston -> Norwich), Norfolk imports 2, Lancashire imports 1 from Merseyside
    let (_, met, _) = get(&st, "/collections/forces/items?code=E23000001").await;
    assert_eq!(
        (
            met["features"][0]["properties"]["exports"].as_u64(),
            met["features"][0]["properties"]["net"].as_i64()
        ),
        (Some(2), Some(2))
    );
    let (_, nfk, _) = get(&st, "/collections/forces/items/E23000024").await;
    assert_eq!(
        (
            nfk["properties"]["imports"].as_u64(),
            nfk["properties"]["net"].as_i64()
        ),
        (Some(2), Some(-2))
    );
    let (_, js, _) = get(
        &st,
        "/collections/journeys/items?datetime=2024-02-01/2024-12-31&limit=5",
    )
    .await;
    assert_eq!(js["numberMatched"], 2);
    let (_, lanc, _) = get(&st, "/collections/journeys/items?force=E23000003").await;
    assert_eq!(lanc["features"][0]["id"], "o3");
}

const EPSG_27700: &str = "http://www.opengis.net/def/crs/EPSG/0/27700";
const EPSG_4326: &str = "http://www.opengis.net/def/crs/EPSG/0/4326";

/// Part 2 (CRS by reference): /req/crs/fc-md-crs-list, fc-md-storage, fc-crs-action,
/// ogc-crs-header(-value), fc-bbox-crs-action, crs-exception.
#[tokio::test]
async fn part_2_serves_british_national_grid_and_lat_lon_on_request() {
    let st = fresh_state();
    let (_, c, _) = get(&st, "/collections/stations").await;
    let crs: Vec<&str> = c["crs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(crs, vec![linesmap::http::ogc::CRS84, EPSG_4326, EPSG_27700]);
    assert_eq!(c["storageCrs"], linesmap::http::ogc::CRS84);
    let (_, conf, _) = get(&st, "/conformance").await;
    assert!(
        conf["conformsTo"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs")
    );

    let fetch = |q: String| {
        let st = st.clone();
        async move {
            let r = warp::test::request()
                .path(&q)
                .reply(&linesmap::http::routes(st))
                .await;
            let v: Value = serde_json::from_slice(r.body()).unwrap();
            (
                r.status().as_u16(),
                r.headers()
                    .get("content-crs")
                    .map(|h| h.to_str().unwrap().to_string()),
                v,
            )
        }
    };
    let (s, h, plain) = fetch("/collections/stations/items/IPS".into()).await;
    assert_eq!(
        (s, h.as_deref()),
        (200, Some("<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"))
    );
    let (lon, lat) = (
        plain["geometry"]["coordinates"][0].as_f64().unwrap(),
        plain["geometry"]["coordinates"][1].as_f64().unwrap(),
    );
    let enc = |s: &str| s.replace(':', "%3A").replace('/', "%2F");
    let (_, h, ll) = fetch(format!(
        "/collections/stations/items/IPS?crs={}",
        enc(EPSG_4326)
    ))
    .await;
    assert_eq!(h.unwrap(), format!("<{EPSG_4326}>"));
    assert_eq!(
        ll["geometry"]["coordinates"],
        json!([lat, lon]),
        "EPSG:4326 is lat, lon"
    );
    let (_, h, bng) = fetch(format!(
        "/collections/stations/items/IPS?crs={}",
        enc(EPSG_27700)
    ))
    .await;
    assert_eq!(h.unwrap(), format!("<{EPSG_27700}>"));
    let e = bng["geometry"]["coordinates"][0].as_f64().unwrap();
    let n = bng["geometry"]["coordinates"][1].as_f64().unwrap();
    // Ipswich station is at about TM 156 437 on the National Grid: E 615 6xx, N 243 7xx
    assert!(
        (615_000.0..616_500.0).contains(&e) && (243_000.0..244_500.0).contains(&n),
        "{e} {n}"
    );

    // a bbox in the grid around that point finds the station; the same numbers as CRS84 don't
    let q = format!(
        "/collections/stations/items?bbox={},{},{},{}&bbox-crs={}&crs={}&limit=100",
        e - 500.0,
        n - 500.0,
        e + 500.0,
        n + 500.0,
        enc(EPSG_27700),
        enc(EPSG_27700)
    );
    let (s, h, v) = fetch(q).await;
    assert_eq!((s, h.unwrap()), (200, format!("<{EPSG_27700}>")));
    let ids: Vec<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"IPS"), "{ids:?}");
    let hit = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "IPS")
        .unwrap();
    assert_eq!(
        hit["geometry"]["coordinates"],
        bng["geometry"]["coordinates"]
    );
    // EPSG:4326 bbox is lat, lon
    let (_, _, v) = fetch(format!(
        "/collections/stations/items?bbox={},{},{},{}&bbox-crs={}&limit=100",
        lat - 0.001,
        lon - 0.001,
        lat + 0.001,
        lon + 0.001,
        enc(EPSG_4326)
    ))
    .await;
    assert!(
        v["features"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["id"] == "IPS")
    );
    // every other collection takes crs too
    for c in ["forces", "rail", "journeys", "hotspots", "flows"] {
        let (s, h, _) = fetch(format!(
            "/collections/{c}/items?limit=2&crs={}",
            enc(EPSG_27700)
        ))
        .await;
        assert_eq!((s, h.unwrap()), (200, format!("<{EPSG_27700}>")), "{c}");
    }
}

/// Strong ETags with 304, gzip when accepted, 405 for undeclared methods.
#[tokio::test]
async fn responses_carry_etags_compress_and_refuse_other_methods() {
    let st = fresh_state();
    let r = warp::test::request()
        .path("/collections/stations/items?limit=50")
        .reply(&routes(st.clone()))
        .await;
    let tag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && !tag.starts_with("W/"),
        "{tag}"
    );
    let again = warp::test::request()
        .path("/collections/stations/items?limit=50")
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(
        again.headers()["etag"],
        tag.as_str(),
        "the same bytes, the same tag"
    );
    let nm = warp::test::request()
        .path("/collections/stations/items?limit=50")
        .header("if-none-match", &tag)
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(nm.status(), 304);
    assert!(nm.body().is_empty());
    let other = warp::test::request()
        .path("/collections/stations/items?limit=51")
        .header("if-none-match", &tag)
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(other.status(), 200);

    let gz = warp::test::request()
        .path("/collections/stations/items?limit=50")
        .header("accept-encoding", "gzip")
        .reply(&routes(st.clone()))
        .await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_ne!(
        gz.headers()["etag"],
        tag.as_str(),
        "each encoding has its own tag"
    );
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gz.body()[..]),
        &mut plain,
    )
    .unwrap();
    assert_eq!(
        plain,
        r.body().to_vec(),
        "gzip decodes to the identity bytes"
    );
    assert!(gz.body().len() < r.body().len() / 3);

    for (method, path) in [
        ("POST", "/collections"),
        ("DELETE", "/collections/stations/items"),
        ("PUT", "/"),
        ("PATCH", "/api/hotspots"),
    ] {
        let r = warp::test::request()
            .method(method)
            .path(path)
            .reply(&routes(st.clone()))
            .await;
        assert_eq!(r.status(), 405, "{method} {path}");
        let v: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(v["code"], "method_not_allowed");
    }
}

#[tokio::test]
async fn the_openapi_document_describes_untimed_excluded_in_the_items_and_the_export() {
    let st = fresh_state();
    let (s, doc, _) = get(&st, "/openapi").await;
    assert_eq!(s, 200);
    let member = |path: &str, media: &str| {
        doc["paths"][path]["get"]["responses"]["200"]["content"][media]["schema"]["properties"]
            ["untimed_excluded"]
            .clone()
    };
    for id in ["journeys", "hotspots", "flows"] {
        let m = member(&format!("/collections/{id}/items"), "application/geo+json");
        assert_eq!(
            (&m["type"], &m["nullable"]),
            (&json!("integer"), &json!(true)),
            "{id}"
        );
    }
    assert_eq!(
        member("/api/export", "application/geo+json")["type"],
        "integer"
    );
    let header = &doc["paths"]["/api/export"]["get"]["responses"]["200"]["headers"]["X-Untimed-Excluded"]
        ["schema"];
    assert_eq!(header["pattern"], "^([0-9]+|suppressed)$");
}

/// Whether `pattern` (an OpenAPI pattern, anchored) takes `s`.
fn takes(pattern: &Value, s: &str) -> bool {
    regex::Regex::new(pattern.as_str().unwrap())
        .unwrap()
        .is_match(s)
}

/// The served OpenAPI document against the server itself (the independent method is the
/// server's own answer to each value): the station and force enumerations are exactly the
/// features of the stations and forces collections, a code of the right shape outside them is
/// refused, and the `datetime` and `bbox` patterns take exactly the values the server takes
/// (values whose order is wrong, which no pattern can say, are left out of the comparison).
#[tokio::test]
async fn the_served_openapi_document_takes_exactly_the_codes_dates_and_boxes_the_server_takes() {
    let st = fresh_state();
    let (s, doc, _) = get(&st, "/openapi").await;
    assert_eq!(s, 200);
    let schemas = &doc["components"]["schemas"];
    for (schema, collection) in [("StationCode", "stations"), ("ForceCode", "forces")] {
        let codes = schemas[schema]["enum"].as_array().unwrap();
        let (_, fc, _) = get(&st, &format!("/collections/{collection}/items?limit=10000")).await;
        let mut served: Vec<&str> = fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap())
            .collect();
        served.sort_unstable();
        let listed: Vec<&str> = codes.iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(listed, served, "{schema}");
    }
    let stations = &schemas["StationCode"]["enum"];
    assert!(stations.as_array().unwrap().contains(&json!("EUS")));
    assert!(!stations.as_array().unwrap().contains(&json!("XQZ")));
    assert_eq!(get(&st, "/api/trends?station=XQZ").await.0, 400);
    assert_eq!(get(&st, "/api/trends?force=E23000099").await.0, 400);

    // POST bodies: one report, a non-empty array of them, or NDJSON lines of them
    let post = &doc["paths"]["/api/journeys"]["post"]["requestBody"]["content"];
    assert_eq!(schemas["ReportOrBatch"]["oneOf"][1]["minItems"], 1);
    assert_eq!(post["application/x-ndjson"]["schema"]["minItems"], 1);
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("data/journey-report.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(schemas["JourneyReport"]["required"], file["required"]);
    assert_eq!(
        schemas["JourneyReport"]["additionalProperties"],
        json!(false)
    );

    let params = doc["paths"]["/collections/journeys/items"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let datetime = &params.iter().find(|p| p["name"] == "datetime").unwrap()["schema"]["pattern"];
    for v in [
        "",
        "2024-01-01",
        "2024-02-29",
        "2023-02-29",
        "2024-02-30",
        "2024-13-01",
        "1999-12-31",
        "2000-01-01",
        "2999-01-01",
        "2024-1-1",
        "yesterday",
        "..",
        "/",
        "../..",
        "2024-01-01/..",
        "../2024-01-01",
        "/2024-01-01",
        "2024-01-01/2024-03-01",
        "2024-01-01/2024-03-01/2024-04-01",
        "2024-01-01T10:00:00Z",
        "2024-01-01T10:00:00.5+01:00",
        "2024-01-01T24:00:00Z",
        "2024-01-01T10:00:00Z/..",
    ] {
        let q: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
        let (s, body, _) = get(
            &st,
            &format!("/collections/journeys/items?limit=1&datetime={q}"),
        )
        .await;
        assert_eq!(takes(datetime, v), s == 200, "datetime={v:?}: {s} {body}");
    }
    let params = doc["paths"]["/api/trends"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let bbox = &params.iter().find(|p| p["name"] == "bbox").unwrap()["schema"]["pattern"];
    for v in [
        "",
        "-1,50,1,52",
        "-1.5,50.25,1.5,53",
        "-180,-90,180,90",
        "-180.0,-90.00,180.0,90.0",
        "-181,0,0,1",
        "0,0,180.5,1",
        "0,-90.5,1,1",
        "1,2,3",
        "1,2,3,4,5",
        "a,b,c,d",
        "1,,3,4",
    ] {
        let q: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
        let (s, body, _) = get(&st, &format!("/api/trends?bbox={q}")).await;
        assert_eq!(takes(bbox, v), s == 200, "bbox={v:?}: {s} {body}");
    }
}
