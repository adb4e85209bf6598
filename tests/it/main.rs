//! Integration tests: one binary, a module per area. The reference-data tests need
//! the shipped `data/gb` (or `LINESMAP_DATA`); without it they fail loudly.

mod access;
mod cli;
mod clock;
mod common;
mod filter;
mod flows;
mod fuzz;
mod gis;
mod hotspots;
mod http_api;
mod journeys;
mod layers;
mod leaks;
mod loaders;
mod ogc;
mod pages;
mod people;
mod pg;
mod records;
mod reference;
mod reliability;
mod restriction;
mod schemathesis;
mod signin;
mod tiles;
