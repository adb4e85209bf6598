//! The queryables of each OGC collection (OGC API – Features Part 3, `/queryables`): every
//! property a filter may name, with its type, and the values of a closed vocabulary (modes,
//! measures, force codes…); served as a JSON Schema (2020-12) and used to check a filter before
//! it runs.

use super::cql2::{self, QType, Queryables, Val};
use crate::geography::Geography;
use crate::journey::carried::Totals;
use crate::journey::index::Hot;
use crate::journey::map::MappedJourney;
use crate::journey::report::{LineType, Mode, format_date};
use crate::layers::collection::Collection;
use geo::{Coord, Geometry, Rect};
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
const STATION_COUNTS: &[&str] = crate::layers::rows::STATION_COLUMNS;

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

/// The queryables of collection `id`.
pub fn of(id: Collection, g: &Geography) -> List {
    let forces = g
        .forces
        .forces()
        .iter()
        .map(|f| f.code.to_string())
        .collect();
    build(id, forces)
}

/// The names of collection `id`'s queryables (the same whatever the geography), kept for the
/// server's life: the items query parameters they add
/// (`queryables-query-parameters`).
/// A collection is given as such or by its id (an unknown id has none).
pub fn names(id: impl TryInto<Collection>) -> &'static [&'static str] {
    let Ok(id) = id.try_into() else {
        return &[];
    };
    static NAMES: std::sync::LazyLock<Vec<(Collection, &'static [&'static str])>> =
        std::sync::LazyLock::new(|| {
            Collection::ALL
                .iter()
                .map(|&c| {
                    let names: Vec<&'static str> = build(c, Vec::new())
                        .0
                        .into_iter()
                        .map(|q| &*Box::leak(q.name.into_boxed_str()))
                        .collect();
                    (c, &*Box::leak(names.into_boxed_slice()))
                })
                .collect()
        });
    NAMES
        .iter()
        .find(|(c, _)| *c == id)
        .map_or(&[], |(_, n)| *n)
}

/// The queryables of collection `id`, a force vocabulary given (empty: none known).
pub fn build(id: Collection, forces: Vec<String>) -> List {
    use QType::*;
    let mut b = Builder {
        list: Vec::new(),
        forces,
    };
    match id {
        Collection::Stations => {
            b.add("crs", String).add("name", String).force("force");
            b.add("entries_exits_2019_20", Integer)
                .each(STATION_COUNTS, Integer);
        }
        Collection::Forces => {
            b.force("code")
                .add("name", String)
                .add("force_name", String)
                .each(&["exports", "imports", "net"], Integer)
                .each(&["distinct_persons", "distinct_children"], Integer)
                .totals();
        }
        Collection::Rail => {
            b.add("section", Integer)
                .add("length_m", Number)
                .each(&["journeys", "persons", "children"], Integer);
        }
        Collection::Journeys => {
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
        Collection::Hotspots => {
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
        Collection::Flows => {
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
fn geometry_format(id: Collection) -> &'static str {
    use crate::layers::collection::Geometry as G;
    match id.geometry() {
        G::Point => "geometry-point",
        G::MultiPolygon => "geometry-multipolygon",
        G::LineString => "geometry-linestring",
    }
}

/// The queryables as a JSON Schema (2020-12), `$id` the queryables' own address.
pub fn schema(id: Collection, list: &List, href: &str) -> Value {
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
        "title": id.title(),
        "properties": props,
        "additionalProperties": false,
    })
}

/// A property of the `journeys` collection a filter names, resolved once per filter: the
/// typed accessor of [`JourneyRow`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JourneyProp {
    ReportId,
    ReportedAt,
    SourceForce,
    Date,
    Mode,
    OriginStation,
    DestinationStation,
    OriginForce,
    DestinationForce,
    ExportingForce,
    ImportingForce,
    ReturnRun,
    CrossBorder,
    UrbanToRural,
    OriginClass,
    DestinationClass,
    OriginSnappedM,
    DestinationSnappedM,
    RouteMethod,
    DistanceM,
    LineId,
    LineName,
    LineType,
    ReportingLagDays,
    Persons,
    Children,
}

impl JourneyProp {
    /// The accessor of a journeys queryable (not `geometry`); None for any other name.
    pub fn of(name: &str) -> Option<JourneyProp> {
        use JourneyProp::*;
        Some(match name {
            "report_id" => ReportId,
            "reported_at" => ReportedAt,
            "source_force" => SourceForce,
            "date" => Date,
            "mode" => Mode,
            "origin_station" => OriginStation,
            "destination_station" => DestinationStation,
            "origin_force" => OriginForce,
            "destination_force" => DestinationForce,
            "exporting_force" => ExportingForce,
            "importing_force" => ImportingForce,
            "return_run" => ReturnRun,
            "cross_border" => CrossBorder,
            "urban_to_rural" => UrbanToRural,
            "origin_class" => OriginClass,
            "destination_class" => DestinationClass,
            "origin_snapped_m" => OriginSnappedM,
            "destination_snapped_m" => DestinationSnappedM,
            "route_method" => RouteMethod,
            "distance_m" => DistanceM,
            "line_id" => LineId,
            "line_name" => LineName,
            "line_type" => LineType,
            "reporting_lag_days" => ReportingLagDays,
            "persons" => Persons,
            "children" => Children,
            _ => return None,
        })
    }
}

/// A journey as a filter sees it: each property read from the mapped journey as the feature's
/// properties give it ([`MappedJourney::properties`]: the same values, rounded the same way),
/// without building them; the commonest from the index's side-by-side copy of them (`hot`,
/// so that a scan need not visit the journey); the route's box tested before its line.
pub struct JourneyRow<'a> {
    pub journey: &'a MappedJourney,
    pub hot: Hot,
    pub geo: &'a Geography,
}

impl cql2::Row for JourneyRow<'_> {
    type Prop = JourneyProp;

    fn get(&self, p: JourneyProp) -> Val<'_> {
        use JourneyProp::*;
        let (j, g, h) = (self.journey, self.geo, &self.hot);
        let r = &j.report;
        let station =
            |s: Option<u32>| Val::opt_str(s.map(|i| g.stations.get(i as usize).code.as_str()));
        let force =
            |f: Option<u16>| Val::opt_str(f.map(|i| g.forces.get(i as usize).code.as_str()));
        let round = |v: f64| (v * 100.0).round() / 100.0;
        // read in the arms that need it: the hot fields never visit the journey
        let line = || r.line.as_ref();
        match p {
            ReportId => Val::str(&r.report_id),
            ReportedAt => Val::str(&r.reported_at),
            SourceForce => Val::str(r.source_force.as_str()),
            Date => Val::Str(format_date(r.journey.date).into()),
            Mode => Val::str(h.mode.as_str()),
            OriginStation => station(j.origin.station),
            DestinationStation => station(j.destination.station),
            OriginForce => force(h.origin_force),
            DestinationForce => force(h.destination_force),
            ExportingForce => force(h.exporting_force),
            ImportingForce => force(h.importing_force),
            ReturnRun => Val::Bool(h.return_run),
            CrossBorder => Val::Bool(h.cross_border),
            UrbanToRural => Val::Bool(h.urban_to_rural),
            OriginClass => Val::str(j.origin.class.as_str()),
            DestinationClass => Val::str(j.destination.class.as_str()),
            OriginSnappedM => Val::opt_num(j.origin.snapped_m.map(round)),
            DestinationSnappedM => Val::opt_num(j.destination.snapped_m.map(round)),
            RouteMethod => Val::str(j.route.method.as_str()),
            DistanceM => Val::Num(round(j.route.distance_m)),
            LineId => Val::opt_str(line().map(|l| l.line_id.as_str())),
            LineName => Val::opt_str(line().and_then(|l| l.name.as_deref())),
            LineType => Val::opt_str(line().and_then(|l| l.line_type).map(|t| t.as_str())),
            ReportingLagDays => Val::opt_num(j.reporting_lag_days().map(f64::from)),
            Persons => Val::Num(f64::from(h.persons)),
            Children => Val::Num(f64::from(h.children)),
        }
    }

    fn envelope(&self) -> Option<Rect<f64>> {
        let b = self.journey.route.bbox;
        (b.min_lon <= b.max_lon && b.min_lat <= b.max_lat).then(|| {
            Rect::new(
                Coord {
                    x: b.min_lon,
                    y: b.min_lat,
                },
                Coord {
                    x: b.max_lon,
                    y: b.max_lat,
                },
            )
        })
    }

    fn intersects(&self, g: &Geometry<f64>) -> bool {
        // geo's predicate on the route's line, tested segment by segment where the boxes meet,
        // with no copy of the line
        self.journey.route.intersects_geometry(self.geo, g)
    }
}

/// A test of a journey's side-by-side fields.
pub type HotTest = Box<dyn Fn(&Hot) -> bool + Send + Sync>;

/// A journeys filter split for the scan: its top-level AND terms that read only the index's
/// side-by-side fields, as typed tests of [`Hot`] (a mode, a count, a flag, a force; `date`
/// comparisons as a day range, for the index's day lists), the first top-level
/// `S_INTERSECTS` as a test of each route, and the rest, evaluated as CQL2.
/// A journey the filter selects passes every part, and one that passes every part is selected
/// (each hot test holds exactly where its term is true: none of these fields is ever null).
pub struct HotSplit {
    pub tests: Vec<HotTest>,
    /// the day range every selected journey is in (days since 1970-01-01, inclusive)
    pub from_day: Option<i32>,
    pub to_day: Option<i32>,
    /// the geometry of the first top-level `S_INTERSECTS` (the route R-tree's box and each
    /// candidate route's exact test; the caller must apply it: it is not in `rest`)
    pub route_geometry: Option<Geometry<f64>>,
    /// the other terms (None: every term was read as a hot test or a day bound)
    pub rest: Option<cql2::Expr>,
}

/// Splits a journeys filter (checked against the queryables) as [`HotSplit`] says.
pub fn hot_split(e: &cql2::Expr, geo: &Geography) -> HotSplit {
    use cql2::{CmpOp, Expr, Scalar};
    fn terms<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
        match e {
            Expr::And(v) => v.iter().for_each(|x| terms(x, out)),
            x => out.push(x),
        }
    }
    let mut all = Vec::new();
    terms(e, &mut all);
    let mut split = HotSplit {
        tests: Vec::new(),
        from_day: None,
        to_day: None,
        route_geometry: None,
        rest: None,
    };
    let mut rest = Vec::new();
    // the day of a date literal whose text is the date's own (so text order is day order)
    let day = |s: &Scalar| match s {
        Scalar::Str(t) | Scalar::Date(t) => crate::journey::report::parse_date(t)
            .filter(|d| format_date(*d) == *t)
            .map(crate::journey::map::day_number),
        _ => None,
    };
    for t in all {
        if split.route_geometry.is_none()
            && let Expr::Intersects(_, g) = t
            && geo::BoundingRect::bounding_rect(g).is_some()
        {
            split.route_geometry = Some(g.clone());
            continue;
        }
        // (operator, property, literal) with the property on the left
        let cmp = match t {
            Expr::Compare(op, Scalar::Property(p), lit) => Some((*op, p.as_str(), lit)),
            Expr::Compare(op, lit, Scalar::Property(p)) => {
                let flipped = match op {
                    CmpOp::Lt => CmpOp::Gt,
                    CmpOp::Gt => CmpOp::Lt,
                    CmpOp::Le => CmpOp::Ge,
                    CmpOp::Ge => CmpOp::Le,
                    o => *o,
                };
                Some((flipped, p.as_str(), lit))
            }
            _ => None,
        };
        let mut bound = |lo: Option<i32>, hi: Option<i32>| {
            if let Some(d) = lo {
                split.from_day = Some(split.from_day.map_or(d, |x: i32| x.max(d)));
            }
            if let Some(d) = hi {
                split.to_day = Some(split.to_day.map_or(d, |x: i32| x.min(d)));
            }
        };
        let read: Option<HotTest> = match (t, cmp) {
            (_, Some((op, "date", lit))) if op != CmpOp::Ne && day(lit).is_some() => {
                let d = day(lit).unwrap_or_default();
                match op {
                    CmpOp::Eq => bound(Some(d), Some(d)),
                    CmpOp::Lt => bound(None, Some(d - 1)),
                    CmpOp::Le => bound(None, Some(d)),
                    CmpOp::Gt => bound(Some(d + 1), None),
                    _ => bound(Some(d), None),
                }
                continue;
            }
            (
                Expr::Between {
                    value: Scalar::Property(p),
                    low,
                    high,
                    negated: false,
                },
                _,
            ) if p == "date" && day(low).is_some() && day(high).is_some() => {
                bound(day(low), day(high));
                continue;
            }
            (_, Some((op, "mode", Scalar::Str(m)))) if matches!(op, CmpOp::Eq | CmpOp::Ne) => {
                Mode::parse(m).map(|m| -> HotTest {
                    if op == CmpOp::Eq {
                        Box::new(move |h: &Hot| h.mode == m)
                    } else {
                        Box::new(move |h: &Hot| h.mode != m)
                    }
                })
            }
            (
                Expr::In {
                    value: Scalar::Property(p),
                    list,
                    negated: false,
                },
                _,
            ) if p == "mode" => list
                .iter()
                .map(|x| match x {
                    Scalar::Str(m) => Mode::parse(m),
                    _ => None,
                })
                .collect::<Option<Vec<Mode>>>()
                .map(|ms| -> HotTest { Box::new(move |h: &Hot| ms.contains(&h.mode)) }),
            (_, Some((op, p @ ("persons" | "children"), Scalar::Num(n)))) => {
                let (n, children) = (*n, p == "children");
                Some(Box::new(move |h: &Hot| {
                    let v = f64::from(if children { h.children } else { h.persons });
                    v.partial_cmp(&n).is_some_and(|o| op.holds(o))
                }))
            }
            (
                _,
                Some((
                    op @ (CmpOp::Eq | CmpOp::Ne),
                    p @ ("cross_border" | "return_run" | "urban_to_rural"),
                    Scalar::Bool(b),
                )),
            ) => {
                let (want, p) = ((op == CmpOp::Eq) == *b, p.to_string());
                Some(Box::new(move |h: &Hot| {
                    let v = match p.as_str() {
                        "cross_border" => h.cross_border,
                        "return_run" => h.return_run,
                        _ => h.urban_to_rural,
                    };
                    v == want
                }))
            }
            (
                _,
                Some((
                    CmpOp::Eq,
                    p @ ("origin_force" | "destination_force" | "exporting_force"
                    | "importing_force"),
                    Scalar::Str(code),
                )),
            ) => {
                let i = crate::geography::ForceCode::parse(code)
                    .ok()
                    .and_then(|c| geo.forces.index_of(&c))
                    .filter(|&i| geo.forces.get(i).code.as_str() == code.as_str())
                    .and_then(|i| u16::try_from(i).ok());
                let p = p.to_string();
                i.map(|i| -> HotTest {
                    Box::new(move |h: &Hot| {
                        let v = match p.as_str() {
                            "origin_force" => h.origin_force,
                            "destination_force" => h.destination_force,
                            "exporting_force" => h.exporting_force,
                            _ => h.importing_force,
                        };
                        v == Some(i)
                    })
                })
            }
            _ => None,
        };
        match read {
            Some(test) => split.tests.push(test),
            None => rest.push(t.clone()),
        }
    }
    split.rest = match rest.len() {
        0 => None,
        1 => rest.pop(),
        _ => Some(Expr::And(rest)),
    };
    split
}

/// Spatial answers kept per route while one filter runs: journeys on one mapped route (the
/// index's route numbers) share the answer of each `S_INTERSECTS` geometry, so each route is
/// tested once per geometry.
pub struct RouteAnswers<'a> {
    /// per geometry of the filter (by its address in the compiled filter), per route number:
    /// 0 not yet tested, 1 misses, 2 meets; and what its test learnt of the rail chains
    answers: std::cell::RefCell<Vec<(usize, Vec<u8>, crate::journey::map::ChainMemo)>>,
    /// the index's route boxes and routes by route number
    boxes: &'a [crate::geography::Bbox],
    list: &'a [std::sync::Arc<crate::journey::map::MappedRoute>],
    routes: usize,
    index: &'a crate::journey::index::JourneyIndex,
}

impl<'a> RouteAnswers<'a> {
    /// For the routes of an index.
    pub fn new(idx: &'a crate::journey::index::JourneyIndex) -> RouteAnswers<'a> {
        let (boxes, list) = (idx.route_boxes(), idx.route_list());
        RouteAnswers {
            answers: Default::default(),
            boxes,
            list,
            routes: boxes.len().min(list.len()),
            index: idx,
        }
    }
}

/// A [`JourneyRow`] whose spatial tests are answered once per route (see [`RouteAnswers`]).
pub struct SharedRouteRow<'a> {
    pub row: JourneyRow<'a>,
    /// the journey's route number ([`Hot::route`])
    pub route: u32,
    pub answers: &'a RouteAnswers<'a>,
}

impl cql2::Row for SharedRouteRow<'_> {
    type Prop = JourneyProp;

    fn get(&self, p: JourneyProp) -> Val<'_> {
        self.row.get(p)
    }

    fn envelope(&self) -> Option<Rect<f64>> {
        // the route's box from the index's side-by-side copy (the same value)
        match self.answers.boxes.get(self.route as usize) {
            Some(b) if b.min_lon <= b.max_lon && b.min_lat <= b.max_lat => Some(Rect::new(
                Coord {
                    x: b.min_lon,
                    y: b.min_lat,
                },
                Coord {
                    x: b.max_lon,
                    y: b.max_lat,
                },
            )),
            Some(_) => None,
            None => self.row.envelope(),
        }
    }

    fn intersects(&self, g: &Geometry<f64>) -> bool {
        if self.route as usize >= self.answers.routes {
            return self.row.intersects(g);
        }
        self.answers.meets(self.route, self.row.geo, g)
    }
}

impl RouteAnswers<'_> {
    /// Whether route number `r` (below the index's [`JourneyIndex::routes`]) meets `g`, a
    /// geometry of the filter being run (answers are kept by its address): tested once, the
    /// answer kept for every journey on the route.
    ///
    /// [`JourneyIndex::routes`]: crate::journey::index::JourneyIndex::routes
    pub fn meets(&self, r: u32, geo: &Geography, g: &Geometry<f64>) -> bool {
        match self.index.route_view(r) {
            Some(v) => self.meets_view(r, v, geo, g),
            None => self
                .list
                .get(r as usize)
                .is_none_or(|route| self.meets_view(r, route.view(), geo, g)),
        }
    }

    /// [`RouteAnswers::meets`] with the route's geometry and box given (as the index's route
    /// R-tree gives them).
    pub fn meets_view(
        &self,
        r: u32,
        view: crate::journey::map::RouteView<'_>,
        geo: &Geography,
        g: &Geometry<f64>,
    ) -> bool {
        let r = r as usize;
        if r >= self.routes {
            // not a route of this index: no answer to keep (a shortcut may not exclude it)
            return true;
        }
        let key = g as *const Geometry<f64> as usize;
        let known = self
            .answers
            .borrow()
            .iter()
            .find(|(k, ..)| *k == key)
            .map_or(0, |(_, v, _)| v[r]);
        if known != 0 {
            return known == 2;
        }
        let mut all = self.answers.borrow_mut();
        let i = match all.iter().position(|(k, ..)| *k == key) {
            Some(i) => i,
            None => {
                all.push((
                    key,
                    vec![0; self.routes],
                    crate::journey::map::ChainMemo::new(geo),
                ));
                all.len() - 1
            }
        };
        let (_, routes, chains) = &mut all[i];
        let meets = view.intersects_geometry_with(geo, g, Some(chains));
        routes[r] = if meets { 2 } else { 1 };
        meets
    }
}
