//! The queryables of each OGC collection (OGC API – Features Part 3, `/queryables`): every
//! property a filter may name, with its type, and the values of a closed vocabulary (modes,
//! measures, force codes…); served as a JSON Schema (2020-12) and used to check a filter before
//! it runs.

use super::cql2::{QType, Queryables};
use crate::geography::Geography;
use crate::journey::carried::Totals;
use crate::journey::report::{LineType, Mode};
use serde_json::{Map, Value, json};

/// One queryable.
pub struct Queryable {
    pub name: String,
    pub qtype: QType,
    pub values: Option<Vec<String>>,
}

/// The queryables of one collection, in the order of its features' properties.
pub struct List(pub Vec<Queryable>);

impl Queryables for List {
    fn get(&self, name: &str) -> Option<(QType, Option<&[String]>)> {
        self.0
            .iter()
            .find(|q| q.name == name)
            .map(|q| (q.qtype, q.values.as_deref()))
    }
    fn names(&self) -> Vec<String> {
        self.0.iter().map(|q| q.name.clone()).collect()
    }
}

/// Counts every station row carries (stations and hotspots).
const STATION_COUNTS: &[&str] = &[
    "starts",
    "ends",
    "passes",
    "journeys",
    "persons",
    "children",
    "distinct_persons",
    "distinct_children",
    "stops",
    "boardings",
    "alightings",
    "interchanges",
    "encounters",
    "on_route",
];

struct Builder {
    list: Vec<Queryable>,
    forces: Vec<String>,
}

impl Builder {
    fn add(&mut self, name: &str, qtype: QType) -> &mut Self {
        self.list.push(Queryable {
            name: name.into(),
            qtype,
            values: None,
        });
        self
    }
    fn each(&mut self, names: &[&str], qtype: QType) -> &mut Self {
        names.iter().for_each(|n| {
            self.add(n, qtype);
        });
        self
    }
    fn closed(&mut self, name: &str, values: &[&str]) -> &mut Self {
        self.list.push(Queryable {
            name: name.into(),
            qtype: QType::String,
            values: Some(values.iter().map(|s| s.to_string()).collect()),
        });
        self
    }
    fn force(&mut self, name: &str) -> &mut Self {
        self.list.push(Queryable {
            name: name.into(),
            qtype: QType::String,
            values: Some(self.forces.clone()),
        });
        self
    }
    /// The seizure and grading totals: counts, and money (`cash_gbp`) a number.
    fn totals(&mut self) -> &mut Self {
        for c in Totals::COLUMNS {
            let t = if *c == "cash_gbp" {
                QType::Number
            } else {
                QType::Integer
            };
            self.add(c, t);
        }
        self
    }
}

/// The queryables of collection `id` (one of [`super::ogc::COLLECTIONS`]).
pub fn of(id: &str, g: &Geography) -> List {
    use QType::*;
    let mut b = Builder {
        list: Vec::new(),
        forces: g
            .forces
            .forces()
            .iter()
            .map(|f| f.code.to_string())
            .collect(),
    };
    match id {
        "stations" => {
            b.add("crs", String).add("name", String).force("force");
            b.add("entries_exits_2019_20", Integer)
                .each(STATION_COUNTS, Integer);
        }
        "forces" => {
            b.force("code")
                .add("name", String)
                .add("force_name", String)
                .each(&["exports", "imports", "net"], Integer)
                .each(&["distinct_persons", "distinct_children"], Integer)
                .totals();
        }
        "rail" => {
            b.add("section", Integer)
                .add("length_m", Number)
                .each(&["journeys", "persons", "children"], Integer);
        }
        "journeys" => {
            b.add("report_id", String)
                .add("reported_at", DateTime)
                .add("source_force", String)
                .add("date", Date)
                .closed("mode", Mode::ALL)
                .add("origin_station", String)
                .add("destination_station", String)
                .force("origin_force")
                .force("destination_force")
                .force("exporting_force")
                .force("importing_force")
                .each(&["return_run", "cross_border", "urban_to_rural"], Boolean)
                .closed("origin_class", CLASSES)
                .closed("destination_class", CLASSES)
                .each(&["origin_snapped_m", "destination_snapped_m"], Number)
                .closed("route_method", &["rail", "geodesic", "geodesic_fallback"])
                .add("distance_m", Number)
                .add("line_id", String)
                .add("line_name", String)
                .closed("line_type", LineType::ALL)
                .add("reporting_lag_days", Integer)
                .each(&["persons", "children"], Integer);
        }
        "hotspots" => {
            b.add("crs", String)
                .add("name", String)
                .force("force")
                .closed("measure", crate::layers::Measure::ALL)
                .each(STATION_COUNTS, Integer)
                .add("entries_exits_2019_20", Integer)
                .add("rate_per_million", Number)
                .add("low_footfall", Boolean)
                .each(&["gi_z", "p_value", "p_sim"], Number)
                .add("significant", Boolean)
                .closed("spot", &["hot", "cold"]);
        }
        _ => {
            b.force("origin_force")
                .force("destination_force")
                .add("origin_name", String)
                .add("destination_name", String)
                .closed("direction", crate::layers::Direction::ALL)
                .each(super::layers::COUNT_COLUMNS, Integer)
                .totals()
                .add("cross_border", Boolean);
        }
    }
    b.add("geometry", Geometry);
    List(b.list)
}

const CLASSES: &[&str] = &["urban", "town", "rural", "unknown"];

/// The GeoJSON geometry type of a collection's features, as a Part 3 `format`.
fn geometry_format(id: &str) -> &'static str {
    match id {
        "stations" | "hotspots" => "geometry-point",
        "forces" => "geometry-multipolygon",
        _ => "geometry-linestring",
    }
}

/// The queryables as a JSON Schema (2020-12), `$id` the queryables' own address.
pub fn schema(id: &str, title: &str, list: &List, href: &str) -> Value {
    let mut props = Map::new();
    for q in &list.0 {
        let mut p = Map::new();
        p.insert("title".into(), json!(q.name));
        match q.qtype {
            QType::String => {
                p.insert("type".into(), json!("string"));
            }
            QType::Integer => {
                p.insert("type".into(), json!("integer"));
            }
            QType::Number => {
                p.insert("type".into(), json!("number"));
            }
            QType::Boolean => {
                p.insert("type".into(), json!("boolean"));
            }
            QType::Date => {
                p.insert("type".into(), json!("string"));
                p.insert("format".into(), json!("date"));
            }
            QType::DateTime => {
                p.insert("type".into(), json!("string"));
                p.insert("format".into(), json!("date-time"));
            }
            QType::Geometry => {
                p.insert("format".into(), json!(geometry_format(id)));
                p.insert("x-ogc-role".into(), json!("primary-geometry"));
            }
        }
        if let Some(v) = &q.values {
            p.insert("enum".into(), json!(v));
        }
        props.insert(q.name.clone(), Value::Object(p));
    }
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": href,
        "type": "object",
        "title": title,
        "properties": props,
        "additionalProperties": false,
    })
}
