//! Typed rows of the aggregate layers, published before they are rendered.
//!
//! A row is its identity (the cell disclosure control keys its rounding on) and its count
//! columns as [`Cell`]s, in the order they are written. For a caller who may read the journeys
//! the cells are the exact counts; for a viewer [`Disclosure::publish_cells`] turns them into
//! the published ones (suppressed below k, rounded to the base, money withheld) on the row,
//! and what is derived from them is derived after. JSON, GeoJSON and CSV are then the same row
//! serialised through serde: one `Serialize` that writes the fields a form asks for, so the
//! three forms cannot disagree on a column or on a published number.

use super::{Counts, Direction, Flow};
use crate::access::disclosure::Disclosure;
use crate::geography::Geography;
use crate::geography::forces::Force;
use crate::geography::stations::Station;
use crate::journey::carried::Totals;
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// One value of a count column: a count (`None`: suppressed) or an amount of money (`None`:
/// withheld). JSON writes `None` as `null`, CSV as an empty field.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell {
    Count(Option<u64>),
    Money(Option<f64>),
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Cell::Count(Some(n)) => s.serialize_u64(n),
            Cell::Money(Some(x)) => s.serialize_f64(x),
            Cell::Count(None) | Cell::Money(None) => s.serialize_none(),
        }
    }
}

/// The count columns of a flow or a corridor, in the order they are written: the journey
/// counts, then the seizure and grading totals ([`Totals::COLUMNS`]).
pub const COUNT_COLUMNS: &[&str] = &[
    "journeys",
    "lines",
    "return_runs",
    "internal_lines",
    "external_lines",
    "rail_journeys",
    "btp_reported",
    "btp_joint",
    "persons",
    "children",
    "distinct_persons",
    "distinct_children",
];

/// Every count column of [`CountCells`]: [`COUNT_COLUMNS`], then [`Totals::COLUMNS`].
pub fn count_columns() -> impl Iterator<Item = &'static str> + Clone {
    COUNT_COLUMNS.iter().chain(Totals::COLUMNS).copied()
}

/// A row's counts and totals as cells, aligned with [`count_columns`].
#[derive(Clone, Debug, PartialEq)]
pub struct CountCells(Vec<Cell>);

impl CountCells {
    /// The exact counts and totals.
    pub fn of(c: &Counts) -> CountCells {
        let counts = [
            c.journeys,
            c.lines,
            c.return_runs,
            c.internal_lines,
            c.external_lines,
            c.rail_journeys,
            c.btp_reported,
            c.btp_joint,
            c.persons,
            c.children,
            c.distinct_persons,
            c.distinct_children,
        ];
        CountCells(cells(&counts, &c.carried))
    }

    /// (column, cell) in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, Cell)> + '_ {
        count_columns().zip(self.0.iter().copied())
    }

    /// The cell of `column`.
    pub fn get(&self, column: &str) -> Option<Cell> {
        count_columns().position(|c| c == column).map(|i| self.0[i])
    }

    /// Publishes the cells for a viewer, keyed on `cell` (the row's identity).
    pub fn publish(&mut self, d: &Disclosure, cell: &str) {
        d.publish_cells(cell, count_columns(), &mut self.0);
    }
}

/// A row's exact counts, then its seizure and grading totals, as cells.
fn cells(counts: &[u32], carried: &Totals) -> Vec<Cell> {
    let mut cells: Vec<Cell> = counts
        .iter()
        .map(|&n| Cell::Count(Some(u64::from(n))))
        .collect();
    cells.extend(total_cells(carried));
    cells
}

/// Field names sorted (serde_json's `Value` maps, which the JSON forms were written from, are
/// sorted by key), each with its index among `names`: a JSON form's order.
fn sorted_by_name(names: impl Iterator<Item = &'static str>) -> Vec<(&'static str, usize)> {
    let mut o: Vec<(&'static str, usize)> = names.enumerate().map(|(i, name)| (name, i)).collect();
    o.sort_unstable();
    o
}

/// The seizure and grading totals as cells: money ([`Totals::COLUMNS`]' `cash_gbp`, to the
/// penny) a [`Cell::Money`], every other a count.
fn total_cells(t: &Totals) -> Vec<Cell> {
    Totals::COLUMNS
        .iter()
        .zip(t.values())
        .map(|(column, v)| match v.as_u64() {
            Some(n) if !crate::access::disclosure::OMITTED_FIELDS.contains(column) => {
                Cell::Count(Some(n))
            }
            _ => Cell::Money(v.as_f64()),
        })
        .collect()
}

/// The form a row is written in: which of its fields, in what order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form<'k> {
    /// JSON properties (GeoJSON feature or `format=matrix` row): every field, or with
    /// `properties=` the row's identity and the fields named.
    Json(Option<&'k [&'k str]>),
    /// A CSV record: the columns of [`FlowRow::CSV_HEAD`] and the counts.
    Csv,
}

/// One force-to-force flow, as a caller may read it.
#[derive(Clone, Debug)]
pub struct FlowRow<'g> {
    /// force indices
    pub origin_index: u16,
    pub destination_index: u16,
    pub origin: &'g Force,
    pub destination: &'g Force,
    pub direction: Direction,
    pub counts: CountCells,
}

impl<'g> FlowRow<'g> {
    /// The identity of a flow: kept whatever `properties=` selects, and the cell its counts
    /// are published in.
    pub const IDENTITY: &'static [&'static str] = &["origin_force", "destination_force"];
    /// The fields before the counts in a CSV record.
    pub const CSV_HEAD: &'static [&'static str] = &[
        "origin_force",
        "destination_force",
        "origin_name",
        "destination_name",
    ];

    /// The exact row of `f`.
    pub fn new(g: &'g Geography, f: &Flow, direction: Direction) -> FlowRow<'g> {
        FlowRow {
            origin_index: f.origin,
            destination_index: f.destination,
            origin: g.forces.get(f.origin as usize),
            destination: g.forces.get(f.destination as usize),
            direction,
            counts: CountCells::of(&f.counts),
        }
    }

    /// Every property of a flow in JSON, in the order they are written.
    pub fn json_fields() -> impl Iterator<Item = &'static str> {
        Self::CSV_HEAD
            .iter()
            .copied()
            .chain(["direction"])
            .chain(count_columns())
            .chain(["cross_border"])
    }

    /// The header of the CSV form.
    pub fn csv_header() -> Vec<&'static str> {
        Self::CSV_HEAD
            .iter()
            .copied()
            .chain(count_columns())
            .collect()
    }

    /// `ORIGIN-DESTINATION`, the feature id.
    pub fn id(&self) -> String {
        format!("{}-{}", self.origin.code, self.destination.code)
    }

    /// Whether the flow crosses a force boundary.
    pub fn cross_border(&self) -> bool {
        self.origin_index != self.destination_index
    }

    /// The cell the row's counts are published in: its identity, as disclosure control keys
    /// every answer's rounding (the same numbers whichever endpoint or form publishes them).
    pub fn cell(&self) -> String {
        Disclosure::cell(&[
            ("origin_force", self.origin.code.as_str()),
            ("destination_force", self.destination.code.as_str()),
        ])
    }

    /// Publishes the row for a viewer.
    pub fn publish(&mut self, d: &Disclosure) {
        let cell = self.cell();
        self.counts.publish(d, &cell);
    }

    /// The row in a form, for serde.
    pub fn form<'r>(&'r self, form: Form<'r>) -> FlowOut<'r, 'g> {
        FlowOut { row: self, form }
    }
}

/// A flow's fields by position: its forces' codes and names, `direction`, `cross_border`, then
/// its counts and totals ([`count_columns`]); written by name as the OGC items and export
/// have them (`/api/flows` writes [`FlowOut`]).
impl PlaceRow for FlowRow<'_> {
    fn names() -> &'static [&'static str] {
        static N: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        N.get_or_init(|| {
            Self::CSV_HEAD
                .iter()
                .copied()
                .chain(["direction", "cross_border"])
                .chain(count_columns())
                .collect()
        })
    }
    fn order() -> &'static [(&'static str, usize)] {
        static O: std::sync::OnceLock<Vec<(&'static str, usize)>> = std::sync::OnceLock::new();
        order_of(&O, Self::names())
    }
    fn field(&self, i: usize) -> Field<'_> {
        match i {
            0 => Field::Text(Some(self.origin.code.as_str())),
            1 => Field::Text(Some(self.destination.code.as_str())),
            2 => Field::Text(Some(self.origin.name.as_str())),
            3 => Field::Text(Some(self.destination.name.as_str())),
            4 => Field::Text(Some(self.direction.as_str())),
            5 => Field::Bool(self.cross_border()),
            i => Field::Cell(self.counts.0[i - 6]),
        }
    }
}

/// A [`FlowRow`] written in a [`Form`].
pub struct FlowOut<'r, 'g> {
    row: &'r FlowRow<'g>,
    form: Form<'r>,
}

impl Serialize for FlowOut<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.row;
        let keep = |name: &str| match self.form {
            Form::Json(Some(keep)) => FlowRow::IDENTITY.contains(&name) || keep.contains(&name),
            Form::Json(None) | Form::Csv => true,
        };
        let json = matches!(self.form, Form::Json(_));
        let mut st = s.serialize_struct("Flow", FlowRow::json_fields().count())?;
        let text = [
            ("origin_force", r.origin.code.as_str()),
            ("destination_force", r.destination.code.as_str()),
            ("origin_name", r.origin.name.as_str()),
            ("destination_name", r.destination.name.as_str()),
        ];
        for (name, v) in text {
            if keep(name) {
                st.serialize_field(name, v)?;
            }
        }
        if json && keep("direction") {
            st.serialize_field("direction", r.direction.as_str())?;
        }
        for (name, cell) in count_columns().zip(&r.counts.0) {
            if keep(name) {
                st.serialize_field(name, cell)?;
            }
        }
        if json && keep("cross_border") {
            st.serialize_field("cross_border", &r.cross_border())?;
        }
        st.end()
    }
}

/// The count columns of a trend period, in the order they are written, before the seizure
/// and grading totals ([`Totals::COLUMNS`]).
pub const TREND_COUNT_COLUMNS: &[&str] = &[
    "journeys",
    "persons",
    "children",
    "cross_border",
    "rail",
    "lines",
    "nrm_referrals",
    "safeguarding_referrals",
    "distinct_persons",
    "distinct_children",
];

/// Every count column of a [`TrendRow`]: [`TREND_COUNT_COLUMNS`], then [`Totals::COLUMNS`].
pub fn trend_count_columns() -> impl Iterator<Item = &'static str> + Clone {
    TREND_COUNT_COLUMNS.iter().chain(Totals::COLUMNS).copied()
}

/// One period of a trends answer, as a caller may read it: its first and last day and its
/// counts and totals as cells (aligned with [`trend_count_columns`]).
#[derive(Clone, Debug, PartialEq)]
pub struct TrendRow {
    /// first and last day (days since 1970-01-01)
    pub start: i32,
    pub end: i32,
    pub cells: Vec<Cell>,
}

/// How a [`TrendRow`] is written: JSON (its fields by name, in alphabetical order, as the
/// answers have always had them) or a CSV record (the columns of [`TrendRow::csv_header`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrendForm {
    Json,
    Csv,
}

impl TrendRow {
    /// The exact row of a period.
    pub fn new(b: &super::Bucket) -> TrendRow {
        let counts = [
            b.journeys,
            b.persons,
            b.children,
            b.cross_border,
            b.rail,
            b.lines,
            b.nrm_referrals,
            b.safeguarding_referrals,
            b.distinct_persons,
            b.distinct_children,
        ];
        TrendRow {
            start: b.start,
            end: b.end,
            cells: cells(&counts, &b.carried),
        }
    }

    /// The header of the CSV form: the period, then the counts and totals.
    pub fn csv_header() -> &'static [&'static str] {
        static HEADER: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        HEADER.get_or_init(|| {
            ["period_start", "period_end"]
                .into_iter()
                .chain(trend_count_columns())
                .collect()
        })
    }

    /// The cell the row's counts are published in (its `period_start`, as disclosure control
    /// keys a rendered period).
    pub fn cell(&self) -> String {
        Disclosure::cell(&[("period_start", &super::date_of(self.start).to_string())])
    }

    /// Publishes the row for a viewer.
    pub fn publish(&mut self, d: &Disclosure) {
        let cell = self.cell();
        d.publish_cells(&cell, trend_count_columns(), &mut self.cells);
    }

    /// The cell of `column`.
    pub fn get(&self, column: &str) -> Option<Cell> {
        trend_count_columns()
            .position(|c| c == column)
            .map(|i| self.cells[i])
    }

    /// The row in a form, for serde.
    pub fn form(&self, form: TrendForm) -> TrendOut<'_> {
        TrendOut { row: self, form }
    }
}

/// A [`TrendRow`] written in a [`TrendForm`].
pub struct TrendOut<'r> {
    row: &'r TrendRow,
    form: TrendForm,
}

/// A trend row's fields in JSON order (by name): the index of each in
/// [`TrendRow::csv_header`].
fn trend_json_order() -> &'static [(&'static str, usize)] {
    static ORDER: std::sync::OnceLock<Vec<(&'static str, usize)>> = std::sync::OnceLock::new();
    ORDER.get_or_init(|| sorted_by_name(TrendRow::csv_header().iter().copied()))
}

impl Serialize for TrendOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.row;
        let dates = [
            super::date_of(r.start).to_string(),
            super::date_of(r.end).to_string(),
        ];
        let field = |st: &mut S::SerializeStruct, name: &'static str, i: usize| match i {
            0 | 1 => st.serialize_field(name, &dates[i]),
            i => st.serialize_field(name, &r.cells[i - 2]),
        };
        let mut st = s.serialize_struct("Period", r.cells.len() + 2)?;
        match self.form {
            TrendForm::Json => {
                for &(name, i) in trend_json_order() {
                    field(&mut st, name, i)?;
                }
            }
            TrendForm::Csv => {
                for (i, &name) in TrendRow::csv_header().iter().enumerate() {
                    field(&mut st, name, i)?;
                }
            }
        }
        st.end()
    }
}

/// A station a corridor's reports name as `via`, with the journeys naming it and their share
/// of the corridor's journeys (to four places).
#[derive(Clone, Debug)]
pub struct Via<'g> {
    pub station: &'g Station,
    pub journeys: u32,
    pub share: f64,
}

impl Serialize for Via<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // (by name, as the answers have always had them)
        let mut st = s.serialize_struct("Via", 4)?;
        st.serialize_field("journeys", &self.journeys)?;
        st.serialize_field("name", &self.station.name)?;
        st.serialize_field("share", &self.share)?;
        st.serialize_field("station", self.station.code.as_str())?;
        st.end()
    }
}

/// One hub → market corridor, as a caller may read it: its two stations and their forces, its
/// counts and totals as cells, the stations named as `via` (for a viewer, published and those
/// under k left out), and its rail route's length and forces crossed.
#[derive(Clone, Debug)]
pub struct CorridorRow<'g> {
    /// station indices
    pub hub_index: u32,
    pub market_index: u32,
    pub hub: &'g Station,
    pub market: &'g Station,
    pub hub_force: Option<&'g str>,
    pub market_force: Option<&'g str>,
    pub direction: Direction,
    pub counts: CountCells,
    pub via: Vec<Via<'g>>,
    /// the route's length in metres (to the centimetre), if there is a rail route
    pub distance_m: Option<f64>,
    /// the forces the route crosses, in order
    pub forces: Vec<&'g str>,
}

/// How a [`CorridorRow`] is written: its JSON properties (by name in alphabetical order, as
/// the answers have always had them) or a CSV record ([`CorridorRow::csv_header`]: `via` as
/// `CRS:journeys` and `forces` as codes, each `;`-separated; no `direction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorridorForm {
    Json,
    Csv,
}

/// The fields of a corridor before its counts, in CSV order (`direction` is JSON only).
const CORRIDOR_HEAD: &[&str] = &[
    "hub_station",
    "market_station",
    "hub_name",
    "market_name",
    "hub_force",
    "market_force",
    "distance_m",
    "forces",
    "via",
    "direction",
];

impl<'g> CorridorRow<'g> {
    /// The header of the CSV form: the stations, their forces, the route, `via`, the counts.
    pub fn csv_header() -> &'static [&'static str] {
        static HEADER: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        HEADER.get_or_init(|| {
            CORRIDOR_HEAD[..CORRIDOR_HEAD.len() - 1]
                .iter()
                .copied()
                .chain(count_columns())
                .collect()
        })
    }

    /// The cell the row's counts are published in (its two stations, as disclosure control
    /// keys a rendered corridor; the `via` counts are published in this cell and the station).
    pub fn cell(&self) -> String {
        Disclosure::cell(&[
            ("hub_station", self.hub.code.as_str()),
            ("market_station", self.market.code.as_str()),
        ])
    }

    /// Publishes the row's counts for a viewer (the `via` counts are published as the row is
    /// made, since a suppressed one is left out).
    pub fn publish(&mut self, d: &Disclosure) {
        let cell = self.cell();
        self.counts.publish(d, &cell);
    }

    /// The row in a form, for serde.
    pub fn form<'r>(&'r self, form: CorridorForm) -> CorridorOut<'r, 'g> {
        CorridorOut { row: self, form }
    }
}

/// A [`CorridorRow`] written in a [`CorridorForm`].
pub struct CorridorOut<'r, 'g> {
    row: &'r CorridorRow<'g>,
    form: CorridorForm,
}

/// A corridor's JSON fields by name: (name, index into [`CORRIDOR_HEAD`], or its length plus
/// the count column's index).
fn corridor_json_order() -> &'static [(&'static str, usize)] {
    static ORDER: std::sync::OnceLock<Vec<(&'static str, usize)>> = std::sync::OnceLock::new();
    ORDER.get_or_init(|| sorted_by_name(CORRIDOR_HEAD.iter().copied().chain(count_columns())))
}

impl Serialize for CorridorOut<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.row;
        let csv = self.form == CorridorForm::Csv;
        let head = CORRIDOR_HEAD.len();
        let field = |st: &mut S::SerializeStruct, name: &'static str, i: usize| match i {
            0 => st.serialize_field(name, r.hub.code.as_str()),
            1 => st.serialize_field(name, r.market.code.as_str()),
            2 => st.serialize_field(name, &r.hub.name),
            3 => st.serialize_field(name, &r.market.name),
            4 => st.serialize_field(name, &r.hub_force),
            5 => st.serialize_field(name, &r.market_force),
            6 => st.serialize_field(name, &r.distance_m),
            7 if csv => st.serialize_field(name, &r.forces.join(";")),
            7 => st.serialize_field(name, &r.forces),
            8 if csv => st.serialize_field(
                name,
                &r.via
                    .iter()
                    .map(|v| format!("{}:{}", v.station.code.as_str(), v.journeys))
                    .collect::<Vec<_>>()
                    .join(";"),
            ),
            8 => st.serialize_field(name, &r.via),
            9 => st.serialize_field(name, r.direction.as_str()),
            i => st.serialize_field(name, &r.counts.0[i - head]),
        };
        let mut st = s.serialize_struct("Corridor", head + r.counts.0.len())?;
        if csv {
            for (i, &name) in CorridorRow::csv_header().iter().enumerate() {
                let i = if i < head - 1 { i } else { i + 1 };
                field(&mut st, name, i)?;
            }
        } else {
            for &(name, i) in corridor_json_order() {
                field(&mut st, name, i)?;
            }
        }
        st.end()
    }
}

/// One property of a place row (a station, a force, a track section, a flow), as serde writes it: JSON
/// a string, a number or `null`; CSV a field, empty for `None`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Number(Option<f64>),
    Bool(bool),
    Cell(Cell),
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Text(t) => t.serialize(s),
            Field::Int(n) => n.serialize(s),
            Field::Number(x) => x.serialize(s),
            Field::Bool(b) => s.serialize_bool(*b),
            Field::Cell(c) => c.serialize(s),
        }
    }
}

/// A row of a place layer (stations, forces, track sections) or a flow: its fields by position (the
/// fields before its counts, then its count columns), written by name in alphabetical order,
/// as the layers' JSON properties and CSV tables have always had them.
pub trait PlaceRow {
    /// Every property, in the positions [`Self::field`] reads.
    fn names() -> &'static [&'static str];
    /// Every property by name in alphabetical order, each with its position (made once).
    fn order() -> &'static [(&'static str, usize)];
    /// The property at position `i`.
    fn field(&self, i: usize) -> Field<'_>;

    /// The position of property `name`, for a filter's compiled accessors.
    fn field_index(name: &str) -> Option<usize> {
        Self::names().iter().position(|n| *n == name)
    }
    /// The row's properties (a GeoJSON feature's `properties`), by name.
    fn properties(&self) -> Properties<'_, Self>
    where
        Self: Sized,
    {
        Properties(self)
    }
}

/// Names sorted with their positions, made once per row type.
fn order_of(
    cell: &'static std::sync::OnceLock<Vec<(&'static str, usize)>>,
    names: &'static [&'static str],
) -> &'static [(&'static str, usize)] {
    cell.get_or_init(|| sorted_by_name(names.iter().copied()))
}

/// A [`PlaceRow`]'s properties, by name in alphabetical order.
pub struct Properties<'r, R>(&'r R);

impl<R: PlaceRow> Serialize for Properties<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let order = R::order();
        let mut st = s.serialize_struct("Properties", order.len())?;
        for &(name, i) in order {
            st.serialize_field(name, &self.0.field(i))?;
        }
        st.end()
    }
}

/// A [`PlaceRow`] as a CSV record: its properties by name, then a point's `lon` and `lat`.
pub struct CsvRecord<'r, R>(pub &'r R, pub Option<[f64; 2]>);

impl<R: PlaceRow> Serialize for CsvRecord<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let order = R::order();
        let mut st = s.serialize_tuple(order.len() + 2)?;
        for &(_, i) in order {
            st.serialize_element(&self.0.field(i))?;
        }
        if let Some([lon, lat]) = self.1 {
            st.serialize_element(&lon)?;
            st.serialize_element(&lat)?;
        }
        st.end()
    }
}

/// The header of a place layer's CSV: its properties by name, then `lon` and `lat` for points.
pub fn place_csv_header<R: PlaceRow>(points: bool) -> Vec<&'static str> {
    R::order()
        .iter()
        .map(|&(name, _)| name)
        .chain(
            if points { &["lon", "lat"][..] } else { &[] }
                .iter()
                .copied(),
        )
        .collect()
}

/// The count columns of a station, in the order of [`super::StationStats`]' fields as they
/// are written: `boardings` and `alightings` are `starts` and `ends` again under the hotspot
/// measures' names (published with the same draw, so always the same number).
pub const STATION_COLUMNS: &[&str] = &[
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

/// A station's counts as cells, aligned with [`STATION_COLUMNS`].
fn station_cells(c: &super::StationStats) -> Vec<Cell> {
    [
        c.starts,
        c.ends,
        c.passes,
        c.journeys,
        c.persons,
        c.children,
        c.distinct_persons,
        c.distinct_children,
        c.stops,
        c.starts,
        c.ends,
        c.interchanges,
        c.encounters,
        c.on_route,
    ]
    .iter()
    .map(|&n| Cell::Count(Some(u64::from(n))))
    .collect()
}

/// The fields of a station before its counts.
const STATION_TEXT: &[&str] = &["crs", "name", "force", "entries_exits_2019_20"];

/// One station of the stations layer, as a caller may read it: the station, the force whose
/// area holds it, and its counts as cells (aligned with [`STATION_COLUMNS`]).
#[derive(Clone, Debug)]
pub struct StationRow<'g> {
    /// the station's index in the geography
    pub index: usize,
    pub station: &'g Station,
    /// the code of the force whose area holds the station
    pub force: Option<&'g str>,
    pub cells: Vec<Cell>,
}

impl<'g> StationRow<'g> {
    /// The exact row of station `index` with counts `c`.
    pub fn new(g: &'g Geography, index: usize, c: &super::StationStats) -> StationRow<'g> {
        StationRow {
            index,
            station: g.stations.get(index),
            force: g
                .station_force(index)
                .map(|h| g.forces.get(h.force).code.as_str()),
            cells: station_cells(c),
        }
    }

    /// The cell the row's counts are published in: `crs=CODE|`, as disclosure control keys a
    /// station in every answer.
    pub fn cell(&self) -> String {
        Disclosure::cell(&[("crs", self.station.code.as_str())])
    }

    /// Publishes the row for a viewer.
    pub fn publish(&mut self, d: &Disclosure) {
        let cell = self.cell();
        d.publish_cells(&cell, STATION_COLUMNS.iter().copied(), &mut self.cells);
    }
}

impl PlaceRow for StationRow<'_> {
    fn names() -> &'static [&'static str] {
        static N: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        N.get_or_init(|| {
            STATION_TEXT
                .iter()
                .chain(STATION_COLUMNS)
                .copied()
                .collect()
        })
    }
    fn order() -> &'static [(&'static str, usize)] {
        static O: std::sync::OnceLock<Vec<(&'static str, usize)>> = std::sync::OnceLock::new();
        order_of(&O, Self::names())
    }
    fn field(&self, i: usize) -> Field<'_> {
        match i {
            0 => Field::Text(Some(self.station.code.as_str())),
            1 => Field::Text(Some(self.station.name.as_str())),
            2 => Field::Text(self.force),
            3 => Field::Int(self.station.entries_exits_2019_20.map(|n| n as i64)),
            i => Field::Cell(self.cells[i - STATION_TEXT.len()]),
        }
    }
}

/// The fields of a hotspot before its counts (the station's, what was counted, the rate per
/// million entries and exits, and the statistic).
const HOTSPOT_TEXT: &[&str] = &[
    "crs",
    "name",
    "force",
    "measure",
    "entries_exits_2019_20",
    "rate_per_million",
    "low_footfall",
    "gi_z",
    "p_value",
    "p_sim",
    "significant",
    "spot",
];

/// Rounds to 1e-6 (rates, shares and z scores as written).
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// One station ranked as a hotspot, as a caller may read it: the station, its counts as cells
/// (aligned with [`STATION_COLUMNS`]), the measure's rate per million entries and exits (from
/// the cells, so from the published ones for a viewer) and the statistic (computed by the
/// layer from the counts the caller may know).
#[derive(Clone, Debug)]
pub struct HotspotRow<'a> {
    pub station: &'a Station,
    /// the code of the force whose area holds the station
    pub force: Option<&'a str>,
    pub hotspot: &'a super::service::Hotspot,
    pub cells: Vec<Cell>,
    pub rate_per_million: Option<f64>,
}

impl<'a> HotspotRow<'a> {
    /// The row of hotspot `h` (its counts exact, its statistic as computed).
    pub fn new(g: &'a Geography, h: &'a super::service::Hotspot) -> HotspotRow<'a> {
        HotspotRow {
            station: g.stations.get(h.station),
            force: h.force.map(|f| g.forces.get(f).code.as_str()),
            hotspot: h,
            cells: station_cells(&h.stats),
            rate_per_million: h.rate_per_million.map(round6),
        }
    }

    /// Publishes the row for a viewer: its counts in the station's cell (`crs=CODE|`, as a
    /// station is published everywhere), then the rate from the published measure.
    pub fn publish(&mut self, d: &Disclosure) {
        let cell = Disclosure::cell(&[("crs", self.station.code.as_str())]);
        d.publish_cells(&cell, STATION_COLUMNS.iter().copied(), &mut self.cells);
        let field = self.hotspot.measure.field();
        let count = STATION_COLUMNS
            .iter()
            .position(|c| *c == field)
            .and_then(|i| match self.cells[i] {
                Cell::Count(n) => n,
                Cell::Money(_) => None,
            })
            .filter(|_| !self.hotspot.low_footfall);
        self.rate_per_million =
            Disclosure::rate_per_million(count, self.station.entries_exits_2019_20);
    }
}

impl PlaceRow for HotspotRow<'_> {
    fn names() -> &'static [&'static str] {
        static N: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        N.get_or_init(|| {
            HOTSPOT_TEXT
                .iter()
                .chain(STATION_COLUMNS)
                .copied()
                .collect()
        })
    }
    fn order() -> &'static [(&'static str, usize)] {
        static O: std::sync::OnceLock<Vec<(&'static str, usize)>> = std::sync::OnceLock::new();
        order_of(&O, Self::names())
    }
    fn field(&self, i: usize) -> Field<'_> {
        let h = self.hotspot;
        let finite = |x: f64| Some(x).filter(|x| x.is_finite());
        match i {
            0 => Field::Text(Some(self.station.code.as_str())),
            1 => Field::Text(Some(self.station.name.as_str())),
            2 => Field::Text(self.force),
            3 => Field::Text(Some(h.measure.as_str())),
            4 => Field::Int(self.station.entries_exits_2019_20.map(|n| n as i64)),
            5 => Field::Number(self.rate_per_million.and_then(finite)),
            6 => Field::Bool(h.low_footfall),
            7 => Field::Number(finite(round6(h.gi_z))),
            8 => Field::Number(finite(h.p_value)),
            9 => Field::Number(h.p_sim.and_then(finite)),
            10 => Field::Bool(h.significant),
            11 => Field::Text(h.spot),
            i => Field::Cell(self.cells[i - HOTSPOT_TEXT.len()]),
        }
    }
}

/// A force's own count columns, before the seizure and grading totals of the lines it
/// supplies ([`Totals::COLUMNS`]).
pub const FORCE_COLUMNS: &[&str] = &[
    "exports",
    "imports",
    "distinct_persons",
    "distinct_children",
];

/// The fields of a force before its counts (`net` is derived from the counts).
const FORCE_TEXT: &[&str] = &["code", "name", "force_name", "net"];

/// Every count column of a [`ForceRow`]: [`FORCE_COLUMNS`], then [`Totals::COLUMNS`].
pub fn force_columns() -> impl Iterator<Item = &'static str> + Clone {
    FORCE_COLUMNS.iter().chain(Totals::COLUMNS).copied()
}

/// One force of the forces layer, as a caller may read it: its journeys exported and
/// imported, the distinct persons and children on them, and the seizure and grading totals of
/// the lines it supplies, as cells (aligned with [`force_columns`]).
#[derive(Clone, Debug)]
pub struct ForceRow<'g> {
    /// the force's index in the geography
    pub index: usize,
    pub force: &'g Force,
    pub cells: Vec<Cell>,
}

impl<'g> ForceRow<'g> {
    /// The exact row of force `index`: `c` its exports, imports, distinct persons and
    /// children, `carried` its lines' totals.
    pub fn new(g: &'g Geography, index: usize, c: [u32; 4], carried: &Totals) -> ForceRow<'g> {
        ForceRow {
            index,
            force: g.forces.get(index),
            cells: cells(&c, carried),
        }
    }

    /// Exports less imports, from the row's cells (after publication, the published ones;
    /// `None` when either is suppressed).
    pub fn net(&self) -> Option<i64> {
        match (self.cells[0], self.cells[1]) {
            (Cell::Count(Some(e)), Cell::Count(Some(i))) => Some(e as i64 - i as i64),
            _ => None,
        }
    }

    /// The cell the row's counts are published in: `code=GSS|`.
    pub fn cell(&self) -> String {
        Disclosure::cell(&[("code", self.force.code.as_str())])
    }

    /// Publishes the row for a viewer (`net` follows from the published counts).
    pub fn publish(&mut self, d: &Disclosure) {
        let cell = self.cell();
        d.publish_cells(&cell, force_columns(), &mut self.cells);
    }
}

impl PlaceRow for ForceRow<'_> {
    fn names() -> &'static [&'static str] {
        static N: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        N.get_or_init(|| FORCE_TEXT.iter().copied().chain(force_columns()).collect())
    }
    fn order() -> &'static [(&'static str, usize)] {
        static O: std::sync::OnceLock<Vec<(&'static str, usize)>> = std::sync::OnceLock::new();
        order_of(&O, Self::names())
    }
    fn field(&self, i: usize) -> Field<'_> {
        match i {
            0 => Field::Text(Some(self.force.code.as_str())),
            1 => Field::Text(Some(self.force.name.as_str())),
            2 => Field::Text(self.force.force_name.as_deref()),
            3 => Field::Int(self.net()),
            i => Field::Cell(self.cells[i - FORCE_TEXT.len()]),
        }
    }
}

/// The count columns of a track section.
pub const SECTION_COLUMNS: &[&str] = &["journeys", "persons", "children"];

/// The fields of a track section before its counts.
const SECTION_TEXT: &[&str] = &["section", "length_m"];

/// One section of track (a chain of the rail graph) with the journeys along it, as a caller
/// may read it: its counts as cells (aligned with [`SECTION_COLUMNS`]).
#[derive(Clone, Debug)]
pub struct SectionRow<'g> {
    /// the chain's index in the rail graph, the section's id
    pub index: usize,
    pub chain: &'g crate::geography::rail::Chain,
    pub cells: Vec<Cell>,
}

impl<'g> SectionRow<'g> {
    /// The exact row of section `index` with counts `c`.
    pub fn new(g: &'g Geography, index: usize, c: &super::SectionStats) -> SectionRow<'g> {
        SectionRow {
            index,
            chain: &g.rail.chains()[index],
            cells: [c.journeys, c.persons, c.children]
                .iter()
                .map(|&n| Cell::Count(Some(u64::from(n))))
                .collect(),
        }
    }

    /// The cell the row's counts are published in: `section=N|`.
    pub fn cell(&self) -> String {
        Disclosure::cell(&[("section", &self.index.to_string())])
    }

    /// Publishes the row for a viewer.
    pub fn publish(&mut self, d: &Disclosure) {
        let cell = self.cell();
        d.publish_cells(&cell, SECTION_COLUMNS.iter().copied(), &mut self.cells);
    }
}

impl PlaceRow for SectionRow<'_> {
    fn names() -> &'static [&'static str] {
        static N: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
        N.get_or_init(|| {
            SECTION_TEXT
                .iter()
                .chain(SECTION_COLUMNS)
                .copied()
                .collect()
        })
    }
    fn order() -> &'static [(&'static str, usize)] {
        static O: std::sync::OnceLock<Vec<(&'static str, usize)>> = std::sync::OnceLock::new();
        order_of(&O, Self::names())
    }
    fn field(&self, i: usize) -> Field<'_> {
        match i {
            0 => Field::Int(Some(self.index as i64)),
            // to the centimetre, as every length the server writes
            1 => Field::Number(Some((self.chain.length_m() * 100.0).round() / 100.0)),
            i => Field::Cell(self.cells[i - SECTION_TEXT.len()]),
        }
    }
}

/// Writes rows as CSV: the header (also with no rows), then one record a row.
pub fn csv<T: Serialize>(
    header: &[&str],
    rows: impl Iterator<Item = T>,
) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    w.write_record(header)?;
    for r in rows {
        w.serialize(r)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> Counts {
        let mut c = Counts {
            journeys: 12,
            lines: 3,
            persons: 14,
            children: 9,
            ..Counts::default()
        };
        c.carried.cash_gbp = 1234.5;
        c.carried.phones = 2;
        c
    }

    #[test]
    fn the_cells_line_up_with_the_columns() {
        let c = CountCells::of(&counts());
        assert_eq!(c.0.len(), count_columns().count());
        assert_eq!(c.get("journeys"), Some(Cell::Count(Some(12))));
        assert_eq!(c.get("children"), Some(Cell::Count(Some(9))));
        assert_eq!(c.get("phones"), Some(Cell::Count(Some(2))));
        assert_eq!(c.get("cash_gbp"), Some(Cell::Money(Some(1234.5))));
        assert_eq!(c.get("weapons"), Some(Cell::Count(Some(0))));
        assert_eq!(c.get("no_such_column"), None);
    }

    #[test]
    fn a_trend_period_writes_its_cells_by_name_in_json_and_in_order_in_csv() {
        let mut b = crate::layers::Bucket {
            start: 19723, // 2024-01-01
            end: 19729,
            journeys: 12,
            children: 9,
            distinct_persons: 7,
            ..Default::default()
        };
        b.carried.cash_gbp = 1234.5;
        b.carried.phones = 2;
        let r = TrendRow::new(&b);
        assert_eq!(r.cells.len(), trend_count_columns().count());
        assert_eq!(r.get("journeys"), Some(Cell::Count(Some(12))));
        assert_eq!(r.get("children"), Some(Cell::Count(Some(9))));
        assert_eq!(r.get("distinct_persons"), Some(Cell::Count(Some(7))));
        assert_eq!(r.get("phones"), Some(Cell::Count(Some(2))));
        assert_eq!(r.get("cash_gbp"), Some(Cell::Money(Some(1234.5))));
        assert_eq!(r.cell(), "period_start=2024-01-01|");
        // JSON: every field once, by name in alphabetical order
        let json = serde_json::to_string(&r.form(TrendForm::Json)).unwrap();
        let v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&json).unwrap();
        assert_eq!(v.len(), TrendRow::csv_header().len());
        assert!(json.starts_with(r#"{"cash_gbp":1234.5,"children":9,"cross_border":0,"#));
        assert!(json.contains(r#""period_end":"2024-01-07","period_start":"2024-01-01","#));
        // CSV: the header's order
        let out = csv(
            TrendRow::csv_header(),
            std::iter::once(r.form(TrendForm::Csv)),
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), TrendRow::csv_header().join(","));
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("2024-01-01,2024-01-07,12,0,9,0,0,0,0,0,7,0,0,1234.5,2,")
        );
    }

    #[test]
    fn a_csv_of_no_rows_still_has_its_header() {
        let out = csv(&["a", "b"], std::iter::empty::<Cell>()).unwrap();
        assert_eq!(out, b"a,b\n");
    }

    #[test]
    fn cells_write_as_json_numbers_or_null_and_as_csv_fields_or_empty() {
        let cells = [
            Cell::Count(Some(5)),
            Cell::Count(None),
            Cell::Money(Some(0.0)),
            Cell::Money(None),
            Cell::Money(Some(12.25)),
        ];
        assert_eq!(
            serde_json::to_string(&cells).unwrap(),
            "[5,null,0.0,null,12.25]"
        );
        let out = csv(&["a", "b", "c", "d", "e"], std::iter::once(cells)).unwrap();
        assert_eq!(out, b"a,b,c,d,e\n5,,0.0,,12.25\n");
    }
}
