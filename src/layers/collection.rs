//! The collections the layers are served as (OGC API – Features ids), and what `/api/export`
//! writes: each parsed once from its id, with its title and description and the behaviour
//! that differs between them (what `force` selects, whether its features are journeys, its
//! geometry, its extent, whether it is tiled).

/// An OGC collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Collection {
    Stations,
    Forces,
    Rail,
    Journeys,
    Hotspots,
    Flows,
}

/// The geometry of a collection's features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Geometry {
    Point,
    MultiPolygon,
    LineString,
}

/// What a collection's spatial extent is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// every station
    Stations,
    /// every track section
    Track,
    /// every force area
    Forces,
}

impl Collection {
    /// Every collection, in the order `/collections` lists them.
    pub const ALL: [Collection; 6] = [
        Collection::Stations,
        Collection::Forces,
        Collection::Rail,
        Collection::Journeys,
        Collection::Hotspots,
        Collection::Flows,
    ];

    /// The collections served as vector tiles, in the order the tiles' document lists them.
    pub const TILED: [Collection; 4] = [
        Collection::Journeys,
        Collection::Rail,
        Collection::Stations,
        Collection::Flows,
    ];

    /// The collection with this id (ids are case-sensitive, as in a path).
    pub fn parse(id: &str) -> Option<Collection> {
        Collection::ALL.into_iter().find(|c| c.id() == id)
    }

    /// The collection's id, as in its paths.
    pub const fn id(self) -> &'static str {
        match self {
            Collection::Stations => "stations",
            Collection::Forces => "forces",
            Collection::Rail => "rail",
            Collection::Journeys => "journeys",
            Collection::Hotspots => "hotspots",
            Collection::Flows => "flows",
        }
    }

    pub const fn title(self) -> &'static str {
        match self {
            Collection::Stations => "Railway stations",
            Collection::Forces => "Police force areas",
            Collection::Rail => "Rail track sections",
            Collection::Journeys => "Journeys",
            Collection::Hotspots => "Station hotspots",
            Collection::Flows => "Force flows",
        }
    }

    pub const fn description(self) -> &'static str {
        match self {
            Collection::Stations => {
                "National Rail stations with their territorial force, ORR entries and exits 2019-20, and the selected journeys that start, end and pass there (journeys: each once) with their persons and children."
            }
            Collection::Forces => {
                "Police force areas (ONS, generalised) with the selected journeys they export and import by line direction (from the line's exporting force to the force it supplies: the destination's, or the origin's on a return run; the off-diagonal line-direction flows summed), the net (exports - imports), and the seizure and grading totals of the journeys whose line supplies the force."
            }
            Collection::Rail => {
                "Track sections of the rail graph (junction to junction) with the selected rail journeys running along each."
            }
            Collection::Journeys => {
                "Mapped county-lines journeys (demo data is SYNTHETIC): rail routes along the track, other modes as geodesic lines."
            }
            Collection::Hotspots => {
                "Stations ranked by Getis-Ord Gi* of a measure of the selected journeys (measure: stops by default, where people were known to be; rail-network neighbourhoods of 10 km along the track), with z-score, two-sided normal p-value, permutation pseudo p-value (p_sim, by default) and Benjamini-Hochberg significance (FDR 0.05), hot spots first."
            }
            Collection::Flows => {
                "Journeys between forces as lines between points inside the two areas: by line direction (direction=line, the default: from the line's exporting force to the force it supplies, return runs turned round) or by travel (direction=travel: origin force to destination force), with journeys, lines, return runs, internal and external lines, rail journeys, BTP-reported and BTP-joint journeys, persons, children, seizures and grading."
            }
        }
    }

    /// Its features are journeys (journey-level reads); the others are aggregates.
    pub const fn journey_level(self) -> bool {
        matches!(self, Collection::Journeys)
    }

    /// Its features are stations, so `force` (and `bbox`) choose the stations listed, not the
    /// journeys counted.
    pub const fn lists_stations(self) -> bool {
        matches!(self, Collection::Stations | Collection::Hotspots)
    }

    /// An export's `bbox` selects the journeys (their routes) rather than the features:
    /// journeys, and flows (whose lines join points chosen inside two force areas).
    pub const fn bbox_selects_journeys(self) -> bool {
        matches!(self, Collection::Journeys | Collection::Flows)
    }

    pub const fn geometry(self) -> Geometry {
        match self {
            Collection::Stations | Collection::Hotspots => Geometry::Point,
            Collection::Forces => Geometry::MultiPolygon,
            Collection::Rail | Collection::Journeys | Collection::Flows => Geometry::LineString,
        }
    }

    pub const fn extent(self) -> Extent {
        match self {
            Collection::Stations | Collection::Hotspots => Extent::Stations,
            Collection::Rail => Extent::Track,
            Collection::Forces | Collection::Journeys | Collection::Flows => Extent::Forces,
        }
    }

    /// Served as vector tiles ([`Collection::TILED`]).
    pub fn tiled(self) -> bool {
        Collection::TILED.contains(&self)
    }
}

impl std::fmt::Display for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl TryFrom<&str> for Collection {
    type Error = ();
    fn try_from(id: &str) -> Result<Collection, ()> {
        Collection::parse(id).ok_or(())
    }
}

/// What `/api/export` writes: a collection, or the trends table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Export {
    Layer(Collection),
    Trends,
}

impl Export {
    /// Every export, in the order its parameter's vocabulary lists them.
    pub const ALL: [Export; 7] = [
        Export::Layer(Collection::Journeys),
        Export::Layer(Collection::Stations),
        Export::Layer(Collection::Forces),
        Export::Layer(Collection::Rail),
        Export::Layer(Collection::Hotspots),
        Export::Layer(Collection::Flows),
        Export::Trends,
    ];

    /// The ids of [`Export::ALL`], as `collection=` takes them.
    pub const IDS: [&'static str; 7] = [
        Export::ALL[0].id(),
        Export::ALL[1].id(),
        Export::ALL[2].id(),
        Export::ALL[3].id(),
        Export::ALL[4].id(),
        Export::ALL[5].id(),
        Export::ALL[6].id(),
    ];

    pub fn parse(id: &str) -> Option<Export> {
        Export::ALL.into_iter().find(|e| e.id() == id)
    }

    pub const fn id(self) -> &'static str {
        match self {
            Export::Layer(c) => c.id(),
            Export::Trends => "trends",
        }
    }

    /// The OGC collection exported, `None` for trends.
    pub const fn collection(self) -> Option<Collection> {
        match self {
            Export::Layer(c) => Some(c),
            Export::Trends => None,
        }
    }

    /// Its rows are journeys (a journey-level read).
    pub const fn journey_level(self) -> bool {
        matches!(self, Export::Layer(Collection::Journeys))
    }
}

impl std::fmt::Display for Export {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_collection_parses_from_its_own_id_and_nothing_else_does() {
        for c in Collection::ALL {
            assert_eq!(Collection::parse(c.id()), Some(c));
        }
        // the six ids the OGC paths have always had
        let ids: Vec<&str> = Collection::ALL.iter().map(|c| c.id()).collect();
        assert_eq!(
            ids,
            [
                "stations", "forces", "rail", "journeys", "hotspots", "flows"
            ]
        );
        for bad in [
            "",
            "Stations",
            "trends",
            "station",
            "journeys/",
            "corridors",
        ] {
            assert_eq!(Collection::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_export_parses_from_its_id_and_trends_is_no_collection() {
        for e in Export::ALL {
            assert_eq!(Export::parse(e.id()), Some(e));
        }
        assert_eq!(
            Export::IDS,
            [
                "journeys", "stations", "forces", "rail", "hotspots", "flows", "trends"
            ]
        );
        assert_eq!(Export::Trends.collection(), None);
        assert_eq!(Export::parse("corridors"), None);
        assert!(Export::parse("journeys").is_some_and(Export::journey_level));
        assert!(!Export::Trends.journey_level());
    }
}
