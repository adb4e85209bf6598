//! Journey reports: the v1 schema and its validation, mapping a report onto the geography, and
//! the synthetic generator for demo and test data.

pub mod carried;
pub mod clock;
pub mod csv;
pub mod generate;
pub mod index;
pub mod map;
pub mod report;
pub mod review;
