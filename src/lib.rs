//! # linesmap
//!
//! Maps reported county-lines journeys across police force areas and the GB rail network.
//!
//! The data flows one way through the modules:
//! - [`load`] reads the reference data (force areas, stations, track) in its upstream formats;
//! - [`geography`] indexes it: point → force ([`geography::ForceIndex`]), nearest stations
//!   ([`geography::StationIndex`]) and the routable rail graph ([`geography::RailGraph`]);
//! - [`journey`] validates, maps and indexes journey reports; [`layers`] turns a selection of
//!   them into station hotspots, track usage, force flows and trends;
//! - [`http`] serves it over HTTP (warp), with JSON errors for every bad input;
//! - [`serve`] is the `serve` command (data, store, access, limits, then the server);
//! - [`cancel`] stops read work whose client has gone (a superseded filter's);
//! - [`vocab`] holds every closed vocabulary (report enumerations, audit actions) once;
//! - [`config`] resolves where the data lives; [`check`] writes the data-quality report.
//!
//! Coordinates are `(lon, lat)` WGS84 on the outside; distances are metres on the ellipsoid.

pub mod access;
pub mod cancel;
pub mod check;
pub mod config;
pub mod geography;
pub mod http;
pub mod ingest;
pub mod journey;
pub mod layers;
pub mod load;
pub mod serve;
pub mod store;
pub mod vocab;

pub use geography::{Geography, GeographyOptions};
