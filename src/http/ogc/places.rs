//! Every OGC collection but the journeys (stations, forces, track sections, hotspots, flows)
//! as typed rows, from selection to bytes: the rows a query lists ([`select_places`]: the box,
//! `code` and the station's force, then a CQL2 `filter` evaluated on the typed rows), published for a viewer before anything is
//! written ([`crate::layers::rows`]), then written through serde as GeoJSON features in the
//! answer's CRS or as CSV records. The JSON fields are written by name, as the answers have
//! always had them.

use super::super::cql2::{self, Expr};
use super::super::error::ApiError;
use super::super::layers as lay;
use super::{AppState, Collection, Crs, Query, features_key};
use crate::access::disclosure::Disclosure;
use crate::geography::{ForceCode, Geography, StationCode};
use crate::journey::map::polyline_intersects;
use crate::layers::rows::{
    Cell, Field, FlowRow, ForceRow, HotspotRow, PlaceRow, SectionRow, StationRow,
};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use serde_json::Value;

/// A position in the answer's CRS; one the CRS cannot represent is `[null, null]`.
struct Pos([f64; 2], Crs);

impl Serialize for Pos {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Pos(p, crs) = *self;
        if crs == Crs::Crs84 {
            return p.serialize(s);
        }
        crs.from_lonlat(p)
            .map_or([None, None], |q| [Some(q[0]), Some(q[1])])
            .serialize(s)
    }
}

/// A ring closed (its first position again at its end), in the answer's CRS.
struct Ring<'a>(&'a [[f64; 2]], Crs);

impl Serialize for Ring<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let crs = self.1;
        s.collect_seq(self.0.iter().chain(self.0.first()).map(|&p| Pos(p, crs)))
    }
}

/// A polygon's rings (the outer first), in the answer's CRS.
struct Rings<'a>(&'a [Vec<[f64; 2]>], Crs);

impl Serialize for Rings<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let crs = self.1;
        s.collect_seq(self.0.iter().map(|r| Ring(r, crs)))
    }
}

/// A place's geometry, as its feature writes it.
#[derive(Clone, Copy)]
pub enum Shape<'a> {
    /// `null` (CSV tables of forces and track sections leave polygons and lines out)
    None,
    Point([f64; 2]),
    /// a track section's line, its positions rounded to 7 decimals (about a centimetre)
    Line(&'a [[f64; 2]]),
    /// a force's polygons, as rings of lon/lat positions
    Polygons(&'a [Vec<Vec<[f64; 2]>>]),
}

/// A [`Shape`] as GeoJSON in a CRS.
struct GeometryOut<'a>(Shape<'a>, Crs);

impl Serialize for GeometryOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let crs = self.1;
        let kind = match self.0 {
            Shape::None => return s.serialize_none(),
            Shape::Point(_) => "Point",
            Shape::Line(_) => "LineString",
            Shape::Polygons(_) => "MultiPolygon",
        };
        let mut st = s.serialize_struct("Geometry", 2)?;
        match self.0 {
            Shape::None => {}
            Shape::Point(p) => st.serialize_field("coordinates", &Pos(p, crs))?,
            Shape::Line(line) => st.serialize_field("coordinates", &Line(line, crs))?,
            Shape::Polygons(polygons) => st.serialize_field(
                "coordinates",
                &Seq(polygons.iter().map(|p| Rings(p, crs)).collect()),
            )?,
        }
        st.serialize_field("type", kind)?;
        st.end()
    }
}

/// A line's positions rounded to 7 decimals, in a CRS.
struct Line<'a>(&'a [[f64; 2]], Crs);

impl Serialize for Line<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let crs = self.1;
        s.collect_seq(self.0.iter().map(|p| {
            Pos(
                [super::super::round7(p[0]), super::super::round7(p[1])],
                crs,
            )
        }))
    }
}

/// Items written as a JSON array.
struct Seq<T>(Vec<T>);

impl<T: Serialize> Serialize for Seq<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(&self.0)
    }
}

/// A place row: its feature's id and geometry, and its geometry as a filter tests it.
pub trait Place: PlaceRow {
    /// The feature's `id`: a string, or a number (track sections).
    fn id(&self) -> Field<'_>;
    /// The geometry, written when the answer has geometries.
    fn shape(&self) -> Shape<'_>;
    /// The lon/lat envelope of the geometry as written (a line's positions rounded).
    fn envelope(&self) -> geo::Rect<f64> {
        match self.shape() {
            Shape::None => envelope(std::iter::empty()),
            Shape::Point(p) => envelope(std::iter::once(&p)),
            Shape::Line(l) => envelope(rounded(l).iter()),
            Shape::Polygons(ps) => envelope(ps.iter().flatten().flatten()),
        }
    }
    /// Whether the geometry as written intersects `g`.
    fn intersects(&self, g: &geo::Geometry<f64>) -> bool {
        use geo::Intersects;
        let line = |r: &[[f64; 2]]| {
            geo::LineString::from(r.iter().map(|p| (p[0], p[1])).collect::<Vec<_>>())
        };
        match self.shape() {
            Shape::None => false,
            Shape::Point(p) => geo::Point::new(p[0], p[1]).intersects(g),
            Shape::Line(l) => line(&rounded(l)).intersects(g),
            Shape::Polygons(ps) => geo::MultiPolygon::new(
                ps.iter()
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        geo::Polygon::new(line(&p[0]), p[1..].iter().map(|r| line(r)).collect())
                    })
                    .collect(),
            )
            .intersects(g),
        }
    }
    /// Publishes the row's counts for a viewer.
    fn publish(&mut self, d: &Disclosure);
    /// Whether the CSV table ends with the point's `lon` and `lat`.
    const POINTS: bool;
}

impl Place for StationRow<'_> {
    fn id(&self) -> Field<'_> {
        Field::Text(Some(self.station.code.as_str()))
    }
    fn shape(&self) -> Shape<'_> {
        Shape::Point([self.station.lon, self.station.lat])
    }
    fn publish(&mut self, d: &Disclosure) {
        StationRow::publish(self, d);
    }
    const POINTS: bool = true;
}

impl Place for HotspotRow<'_> {
    fn id(&self) -> Field<'_> {
        Field::Text(Some(self.station.code.as_str()))
    }
    fn shape(&self) -> Shape<'_> {
        Shape::Point([self.station.lon, self.station.lat])
    }
    fn publish(&mut self, d: &Disclosure) {
        HotspotRow::publish(self, d);
    }
    const POINTS: bool = true;
}

impl Place for ForceRow<'_> {
    fn id(&self) -> Field<'_> {
        Field::Text(Some(self.force.code.as_str()))
    }
    fn shape(&self) -> Shape<'_> {
        Shape::Polygons(&self.force.polygons)
    }
    fn publish(&mut self, d: &Disclosure) {
        ForceRow::publish(self, d);
    }
    const POINTS: bool = false;
}

impl Place for SectionRow<'_> {
    fn id(&self) -> Field<'_> {
        Field::Int(Some(self.index as i64))
    }
    fn shape(&self) -> Shape<'_> {
        Shape::Line(&self.chain.coords)
    }
    fn publish(&mut self, d: &Disclosure) {
        SectionRow::publish(self, d);
    }
    const POINTS: bool = false;
}

/// A force-to-force flow as a feature: its row, its id and its line (from a point inside the
/// origin's area to one inside the destination's).
pub struct FlowPlace<'g> {
    pub row: FlowRow<'g>,
    id: String,
    line: [[f64; 2]; 2],
}

impl<'g> FlowPlace<'g> {
    pub fn new(state: &AppState, row: FlowRow<'g>) -> FlowPlace<'g> {
        let point = |i: u16| state.force_points[i as usize];
        FlowPlace {
            id: row.id(),
            line: [point(row.origin_index), point(row.destination_index)],
            row,
        }
    }
}

impl PlaceRow for FlowPlace<'_> {
    fn names() -> &'static [&'static str] {
        FlowRow::names()
    }
    fn order() -> &'static [(&'static str, usize)] {
        FlowRow::order()
    }
    fn field(&self, i: usize) -> Field<'_> {
        self.row.field(i)
    }
}

impl Place for FlowPlace<'_> {
    fn id(&self) -> Field<'_> {
        Field::Text(Some(&self.id))
    }
    fn shape(&self) -> Shape<'_> {
        Shape::Line(&self.line)
    }
    fn publish(&mut self, d: &Disclosure) {
        self.row.publish(d);
    }
    const POINTS: bool = false;
}

/// A line's positions as written (rounded to 7 decimals): a filter tests what it is shown.
fn rounded(line: &[[f64; 2]]) -> Vec<[f64; 2]> {
    line.iter()
        .map(|p| [super::super::round7(p[0]), super::super::round7(p[1])])
        .collect()
}

/// The lon/lat box of positions (a point's own box when there is one).
fn envelope<'a>(points: impl Iterator<Item = &'a [f64; 2]>) -> geo::Rect<f64> {
    let mut b: Option<[f64; 4]> = None;
    for p in points {
        let e = b.get_or_insert([p[0], p[1], p[0], p[1]]);
        *e = [
            e[0].min(p[0]),
            e[1].min(p[1]),
            e[2].max(p[0]),
            e[3].max(p[1]),
        ];
    }
    let [x0, y0, x1, y1] = b.unwrap_or([f64::NAN; 4]);
    geo::Rect::new(geo::coord! { x: x0, y: y0 }, geo::coord! { x: x1, y: y1 })
}

/// A place row as a GeoJSON feature in the answer's CRS: on a single feature its `links`,
/// and for a viewer of a single feature the `disclosure` notice.
pub struct PlaceFeature<'r, R> {
    pub row: &'r R,
    pub crs: Crs,
    /// whether the geometry is written (else `null`)
    pub geometry: bool,
    pub links: Option<&'r [Value]>,
    pub disclosure: Option<&'r Value>,
}

impl<'r, R> PlaceFeature<'r, R> {
    pub fn new(row: &'r R, crs: Crs, geometry: bool) -> Self {
        PlaceFeature {
            row,
            crs,
            geometry,
            links: None,
            disclosure: None,
        }
    }
}

impl<R: Place> Serialize for PlaceFeature<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("Feature", 6)?;
        if let Some(d) = self.disclosure {
            out.serialize_field("disclosure", d)?;
        }
        let shape = if self.geometry {
            self.row.shape()
        } else {
            Shape::None
        };
        out.serialize_field("geometry", &GeometryOut(shape, self.crs))?;
        out.serialize_field("id", &self.row.id())?;
        if let Some(l) = self.links {
            out.serialize_field("links", l)?;
        }
        out.serialize_field("properties", &self.row.properties())?;
        out.serialize_field("type", "Feature")?;
        out.end()
    }
}

/// A page (or the whole export) of a layer's features, fields by name: the `disclosure`
/// notice for a viewer, `links` on an items page, the untimed journeys an `hours` or `days`
/// filter left out (as the caller may see them).
#[derive(Serialize)]
pub struct LayerPage<F: Serialize> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<Value>,
    pub features: Vec<F>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<Value>>,
    #[serde(rename = "numberMatched")]
    pub number_matched: usize,
    #[serde(rename = "numberReturned")]
    pub number_returned: usize,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub untimed_excluded: Option<Option<u64>>,
}

/// A place row as a CQL2 filter sees it: a property by its position among the row's fields
/// (counts as published to the caller), and its geometry.
struct FilterRow<'r, R>(&'r R);

impl<R: Place> cql2::Row for FilterRow<'_, R> {
    type Prop = usize;
    fn get(&self, i: usize) -> cql2::Val<'_> {
        match self.0.field(i) {
            Field::Text(t) => cql2::Val::opt_str(t),
            Field::Int(n) => cql2::Val::opt_num(n.map(|n| n as f64)),
            Field::Number(x) => cql2::Val::opt_num(x),
            Field::Bool(b) => cql2::Val::Bool(b),
            Field::Cell(Cell::Count(n)) => cql2::Val::opt_num(n.map(|n| n as f64)),
            Field::Cell(Cell::Money(x)) => cql2::Val::opt_num(x),
        }
    }
    fn envelope(&self) -> Option<geo::Rect<f64>> {
        Some(self.0.envelope())
    }
    fn intersects(&self, g: &geo::Geometry<f64>) -> bool {
        self.0.intersects(g)
    }
}

/// What is done with the rows [`select_places`] selects (one code for every row type).
pub trait OnPlaces {
    type Out;
    /// `matched` rows matched; `rows` the page.
    fn on<R: Place>(self, matched: usize, rows: Vec<R>) -> Result<Self::Out, ApiError>;
}

/// The stations a query lists, in order, as positions in the geography: those in `bbox`, of
/// `code`, in the station's force `place_force`.
fn station_ids(g: &Geography, q: &Query) -> Result<Vec<usize>, ApiError> {
    let code = q
        .code
        .as_deref()
        .map(|s| {
            StationCode::parse(s).map_err(|message| ApiError::InvalidParameter {
                name: "code",
                message,
            })
        })
        .transpose()?;
    let mut ids: Vec<usize> = match q.bbox {
        Some(bb) => g.stations.in_bbox(&bb),
        None => (0..g.stations.len()).collect(),
    };
    ids.retain(|&i| {
        code.as_ref().is_none_or(|c| &g.stations.get(i).code == c)
            && q.place_force
                .is_none_or(|f| g.station_force(i).is_some_and(|h| h.force == f as usize))
    });
    Ok(ids)
}

/// The forces a query lists: those whose box meets `bbox`, of `code`.
fn force_ids(g: &Geography, q: &Query) -> Result<Vec<usize>, ApiError> {
    let code = q
        .code
        .as_deref()
        .map(|s| {
            ForceCode::parse(s).map_err(|message| ApiError::InvalidParameter {
                name: "code",
                message,
            })
        })
        .transpose()?;
    let mut ids: Vec<usize> = match q.bbox {
        Some(bb) => g.forces.in_bbox(&bb),
        None => (0..g.forces.forces().len()).collect(),
    };
    ids.retain(|&i| code.as_ref().is_none_or(|c| &g.forces.get(i).code == c));
    Ok(ids)
}

/// The track sections a query lists: those whose line meets `bbox`.
fn section_ids(g: &Geography, q: &Query) -> Vec<usize> {
    let chains = g.rail.chains();
    match q.bbox {
        Some(bb) => g
            .rail
            .chains_in_bbox(&bb)
            .into_iter()
            .filter(|&i| polyline_intersects(&chains[i].coords, &bb))
            .collect(),
        None => (0..chains.len()).collect(),
    }
}

/// The rows of a place collection (stations, forces, rail, hotspots) or of the flows a query
/// selects, in order, given
/// to `then` as (matched, the page `[offset, offset + limit)`), each published for a viewer
/// when `d` is given. Under `filter` every listed row is made and published first (a viewer's
/// filter compares the counts a viewer is shown, never the true ones) and tested on its typed
/// fields; the positions kept are memoised per (collection, normalised filter, the other
/// parameters) until the journeys change, so that the next page is a slice.
#[allow(clippy::too_many_arguments)]
pub fn select_places<V: OnPlaces>(
    g: &Geography,
    state: &AppState,
    c: Collection,
    q: &Query,
    filter: Option<&Expr>,
    offset: usize,
    limit: usize,
    d: Option<&Disclosure>,
    then: V,
) -> Result<V::Out, ApiError> {
    match c {
        Collection::Stations => {
            let ids = station_ids(g, q)?;
            let counts = lay::station_counts(state, &q.journeys);
            let row = |i: usize| StationRow::new(g, i, &counts[i]);
            page(state, c, q, filter, offset, limit, d, ids, row, then)
        }
        Collection::Forces => {
            let ids = force_ids(g, q)?;
            let counts = lay::force_counts(state, &q.journeys);
            let carried = lay::force_totals(state, &q.journeys);
            let row = |i: usize| ForceRow::new(g, i, counts[i], &carried[i]);
            page(state, c, q, filter, offset, limit, d, ids, row, then)
        }
        Collection::Rail => {
            let ids = section_ids(g, q);
            let counts = lay::section_stats(state, &q.journeys);
            let row = |i: usize| SectionRow::new(g, i, &counts[i]);
            page(state, c, q, filter, offset, limit, d, ids, row, then)
        }
        Collection::Flows => {
            // a viewer is not shown a pair under k at all (`flow_rows`); `bbox` meets the line
            let flows = lay::flow_rows(
                state,
                &q.journeys,
                q.origin,
                q.destination,
                q.direction,
                q.viewer,
            );
            let line = |i: usize| {
                let f = &flows.rows[i];
                [
                    state.force_points[f.origin as usize],
                    state.force_points[f.destination as usize],
                ]
            };
            let ids = (0..flows.rows.len())
                .filter(|&i| q.bbox.is_none_or(|bb| polyline_intersects(&line(i), &bb)))
                .collect();
            let row =
                |i: usize| FlowPlace::new(state, FlowRow::new(g, &flows.rows[i], q.direction));
            page(state, c, q, filter, offset, limit, d, ids, row, then)
        }
        Collection::Hotspots => {
            // every station with its statistic, then the places the query lists, by Gi* z
            let places = lay::PlaceFilter {
                bbox: q.bbox,
                force: q.place_force,
            };
            let sort = lay::HotspotSort::GiZ;
            let rows = lay::hotspot_rows(state, &q.journeys, places, sort, q.hotspot, q.viewer);
            let ids = (0..rows.len()).collect();
            let row = |i: usize| HotspotRow::new(g, &rows[i]);
            page(state, c, q, filter, offset, limit, d, ids, row, then)
        }
        _ => Err(ApiError::Internal(format!("{c} has no typed rows"))),
    }
}

/// [`select_places`] for one row type: `row` makes the exact row at a position.
#[allow(clippy::too_many_arguments)]
fn page<R: Place, V: OnPlaces>(
    state: &AppState,
    c: Collection,
    q: &Query,
    filter: Option<&Expr>,
    offset: usize,
    limit: usize,
    d: Option<&Disclosure>,
    ids: Vec<usize>,
    row: impl Fn(usize) -> R,
    then: V,
) -> Result<V::Out, ApiError> {
    let published = |i: usize| {
        let mut r = row(i);
        if let Some(d) = d {
            r.publish(d);
        }
        r
    };
    let rows = |ids: &[usize]| -> Vec<R> {
        ids.iter()
            .skip(offset)
            .take(limit)
            .map(|&i| published(i))
            .collect()
    };
    let Some(e) = filter else {
        return then.on(ids.len(), rows(&ids));
    };
    let plan = cql2::compile(e, R::field_index).map_err(|err| ApiError::InvalidParameter {
        name: "filter",
        message: err.to_string(),
    })?;
    let version = state.journeys.index().version() as usize;
    let kept = state.memos.filtered_places.0.get(
        version,
        std::time::Duration::ZERO,
        features_key(c, e, q, d.is_some()),
        || {
            ids.iter()
                .copied()
                .filter(|&i| plan.selects(&FilterRow(&published(i))))
                .collect::<Vec<usize>>()
        },
    );
    then.on(kept.len(), rows(&kept))
}

/// Rows as GeoJSON feature values (CRS84; geometry unless `no_geometry`): for the vector
/// tiles and the features a filter keeps for the other collections' doors.
pub struct ToValues {
    pub geometry: bool,
}

impl OnPlaces for ToValues {
    type Out = (usize, Vec<Value>);
    fn on<R: Place>(self, matched: usize, rows: Vec<R>) -> Result<Self::Out, ApiError> {
        let features = rows
            .iter()
            .map(|r| serde_json::to_value(PlaceFeature::new(r, Crs::Crs84, self.geometry)))
            .collect::<Result<_, _>>()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok((matched, features))
    }
}

/// The ids of the rows (the flows a filter keeps, for the flows' CSV export).
pub struct Ids;

impl OnPlaces for Ids {
    type Out = std::collections::HashSet<String>;
    fn on<R: Place>(self, _: usize, rows: Vec<R>) -> Result<Self::Out, ApiError> {
        Ok(rows
            .iter()
            .filter_map(|r| match r.id() {
                Field::Text(Some(t)) => Some(t.to_string()),
                _ => None,
            })
            .collect())
    }
}

/// Rows as the bytes of an export: CSV records (the header also with no rows) or a GeoJSON
/// FeatureCollection; (the bytes, the rows).
pub struct ExportBytes {
    pub csv: bool,
    pub disclosure: Option<Value>,
    pub untimed_excluded: Option<Option<u64>>,
}

impl OnPlaces for ExportBytes {
    type Out = (Vec<u8>, usize);
    fn on<R: Place>(self, matched: usize, rows: Vec<R>) -> Result<Self::Out, ApiError> {
        let n = rows.len();
        let bytes = if self.csv {
            crate::layers::rows::csv(
                &crate::layers::rows::place_csv_header::<R>(R::POINTS),
                rows.iter().map(|r| {
                    let point = match r.shape() {
                        Shape::Point(p) => Some(p),
                        _ => None,
                    };
                    crate::layers::rows::CsvRecord(r, point)
                }),
            )
            .map_err(|e| ApiError::Internal(e.to_string()))?
        } else {
            serde_json::to_vec(&LayerPage {
                disclosure: self.disclosure,
                number_returned: n,
                features: rows
                    .iter()
                    .map(|r| PlaceFeature::new(r, Crs::Crs84, true))
                    .collect(),
                links: None,
                number_matched: matched,
                kind: "FeatureCollection",
                untimed_excluded: self.untimed_excluded,
            })
            .map_err(|e| ApiError::Internal(e.to_string()))?
        };
        Ok((bytes, n))
    }
}

/// Rows as an items page's JSON in the query's CRS.
pub struct ItemsBytes<'a> {
    pub crs: Crs,
    pub disclosure: Option<Value>,
    pub untimed_excluded: Option<Option<u64>>,
    /// the page's links, given the features matched and returned
    pub links: &'a dyn Fn(usize, usize) -> Vec<Value>,
}

impl OnPlaces for ItemsBytes<'_> {
    type Out = Vec<u8>;
    fn on<R: Place>(self, matched: usize, rows: Vec<R>) -> Result<Self::Out, ApiError> {
        serde_json::to_vec(&LayerPage {
            disclosure: self.disclosure,
            number_returned: rows.len(),
            links: Some((self.links)(matched, rows.len())),
            features: rows
                .iter()
                .map(|r| PlaceFeature::new(r, self.crs, true))
                .collect(),
            number_matched: matched,
            kind: "FeatureCollection",
            untimed_excluded: self.untimed_excluded,
        })
        .map_err(|e| ApiError::Internal(e.to_string()))
    }
}

/// One row as a single feature's JSON in a CRS, published for a viewer when `d` is given (with
/// the notice), with the feature's `links`.
pub fn item_bytes<R: Place>(
    mut row: R,
    d: Option<&Disclosure>,
    crs: Crs,
    links: &[Value],
) -> Result<Vec<u8>, ApiError> {
    if let Some(d) = d {
        row.publish(d);
    }
    let notice = d.map(Disclosure::notice);
    serde_json::to_vec(&PlaceFeature {
        links: Some(links),
        disclosure: notice.as_ref(),
        ..PlaceFeature::new(&row, crs, true)
    })
    .map_err(|e| ApiError::Internal(e.to_string()))
}
