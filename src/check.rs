//! `linesmap check-data`: a data-quality report an operator can act on.

use crate::config::LoadTimings;
use crate::geography::{Geography, LocateMethod};
use std::fmt::Write;

/// How many of the worst cases each section lists.
const LIST: usize = 10;

/// Writes the report as plain text.
pub fn report(geo: &Geography, t: &LoadTimings) -> String {
    let mut o = String::new();
    let forces = geo.forces.forces();
    let st = &geo.stations;
    let rail = &geo.rail;
    let _ = writeln!(o, "linesmap data report");
    let _ = writeln!(
        o,
        "loaded in {:.2} s, indexed in {:.2} s",
        t.read.as_secs_f64(),
        t.index.as_secs_f64()
    );
    let _ = writeln!(
        o,
        "\nFORCES: {} areas, {} vertices",
        forces.len(),
        forces.iter().map(|f| f.vertex_count()).sum::<usize>()
    );
    let (outside, inside, boundary, edges) = geo.forces.grid_stats();
    let _ = writeln!(
        o,
        "  lookup grid: {inside} inside cells, {boundary} boundary cells ({edges} clipped edges), {outside} outside cells"
    );

    let _ = writeln!(o, "\nSTATIONS: {}", st.len());
    if !geo.duplicate_stations.is_empty() {
        let _ = writeln!(
            o,
            "  duplicate codes (first kept): {}",
            join(geo.duplicate_stations.iter().map(|c| c.to_string()))
        );
    }
    let no_footfall = st
        .stations()
        .iter()
        .filter(|s| s.entries_exits_2019_20.is_none())
        .count();
    let _ = writeln!(o, "  without 2019-20 footfall: {no_footfall}");
    let (mean, max) = st.grid_stats();
    let _ = writeln!(
        o,
        "  nearest-station grid: {mean:.1} candidates per cell on average, {max} at most"
    );
    let mut by_tol = Vec::new();
    let mut unresolved = Vec::new();
    for i in 0..st.len() {
        match geo.station_force(i) {
            Some(h) if h.method == LocateMethod::NearestWithinTolerance => by_tol.push((i, h)),
            Some(_) => {}
            None => unresolved.push(i),
        }
    }
    let _ = writeln!(
        o,
        "  outside every force polygon: {} ({} given to the nearest force within {:.0} m, {} in no force)",
        by_tol.len() + unresolved.len(),
        by_tol.len(),
        geo.forces.tolerance_m(),
        unresolved.len()
    );
    by_tol.sort_by(|a, b| b.1.distance_m.total_cmp(&a.1.distance_m));
    for (i, h) in &by_tol {
        let s = st.get(*i);
        let f = geo.forces.get(h.force);
        let _ = writeln!(
            o,
            "    {:<8} {:<32} -> {} {} ({:.0} m outside)",
            s.code, s.name, f.code, f.name, h.distance_m
        );
    }
    for i in &unresolved {
        let s = st.get(*i);
        let _ = writeln!(
            o,
            "    {:<8} {:<32} -> NO FORCE within {:.0} m: check the coordinates",
            s.code,
            s.name,
            geo.forces.tolerance_m()
        );
    }

    let _ = writeln!(
        o,
        "\nRAIL NETWORK: {:.0} km of track, {} vertices",
        rail.length_m() / 1000.0,
        rail.vertex_count()
    );
    let sizes = rail.component_sizes();
    let _ = writeln!(
        o,
        "  graph: {} junctions, {} chains (edges), {} connected components",
        rail.junction_count(),
        rail.chains().len(),
        sizes.len()
    );
    if sizes.len() > 1 {
        let _ = writeln!(
            o,
            "  component sizes (junctions): {}",
            join(sizes.iter().take(LIST).map(|s| s.to_string()))
        );
    }
    let _ = writeln!(
        o,
        "  gaps bridged (dead ends joined to another piece): {}",
        rail.bridges().len()
    );
    for b in rail.bridges().iter().take(LIST) {
        let _ = writeln!(
            o,
            "    {:.1} m at ({:.5}, {:.5})",
            b.length_m, b.from[0], b.from[1]
        );
    }
    let mut att: Vec<(usize, f64)> = (0..st.len())
        .filter_map(|i| rail.attachment(i).map(|a| (i, a.distance_m)))
        .collect();
    let attached = att.len();
    let _ = writeln!(
        o,
        "  stations attached to the track: {attached} of {}",
        st.len()
    );
    att.sort_by(|a, b| b.1.total_cmp(&a.1));
    let _ = writeln!(o, "  farthest attachments:");
    for (i, d) in att.iter().take(LIST) {
        let s = st.get(*i);
        let _ = writeln!(
            o,
            "    {:<8} {:<32} {:>8.0} m from the track",
            s.code, s.name, d
        );
    }
    let off_main: Vec<usize> = (0..st.len())
        .filter(|&i| rail.attachment(i).is_some() && !rail.in_main_component(i))
        .collect();
    let _ = writeln!(
        o,
        "  stations on track not connected to the main network: {}",
        off_main.len()
    );
    if !off_main.is_empty() {
        let _ = writeln!(
            o,
            "    {}",
            join(off_main.iter().map(|&i| st.get(i).code.to_string()))
        );
    }
    o
}

fn join(it: impl Iterator<Item = String>) -> String {
    it.collect::<Vec<_>>().join(", ")
}
