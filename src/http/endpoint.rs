//! The endpoint table: every operation the server answers, written once. A request is resolved
//! here once, from its method and normalised path, to an [`Entry`]; the router dispatches on it
//! (`http::dispatch`), the gate reads the role it needs and whether it is person-level, the step
//! after the route reads its audit action and whether its counts go through disclosure control,
//! a wrong method gets 405 with the `Allow` the table gives, and the OpenAPI document lists
//! exactly these operations. A new endpoint is one entry here and one arm in `dispatch` (which
//! the compiler asks for). `access` keeps the roles and no longer knows URLs.

use crate::access::{Need, Role};
use crate::layers::collection::{Collection, Export};

/// The HTTP methods the table uses (`HEAD` is answered as `GET`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    pub fn parse(method: &str) -> Option<Verb> {
        match method {
            "GET" | "HEAD" => Some(Verb::Get),
            "POST" => Some(Verb::Post),
            "PUT" => Some(Verb::Put),
            "DELETE" => Some(Verb::Delete),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
        }
    }
}

/// Every operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Landing,
    Asset,
    Conformance,
    OpenApi,
    Health,
    Collections,
    Collection,
    Queryables,
    Items,
    Item,
    Ingest,
    Journeys,
    Journey,
    Erase,
    Rectify,
    Versions,
    Restrict,
    Unrestrict,
    Locate,
    Route,
    Station,
    Hotspots,
    Emerging,
    Flows,
    Corridors,
    Trends,
    Treatment,
    Clock,
    People,
    Person,
    Export,
    WhoAmI,
    AuthConfig,
    Vocabulary,
    Review,
    ReviewDecision,
    Audit,
    TileMatrixSets,
    TileMatrixSet,
    Tilesets,
    Tileset,
    Tile,
}

/// Who may call an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// anyone, signed in or not
    Public,
    /// at least this role
    Role(Role),
    /// journeys: a `btp_planner`, or an `analyst` with person summaries (`persons=true`)
    JourneyRead,
    /// a collection's features: as [`Access::JourneyRead`] for `journeys`, else any role
    CollectionRead,
    /// an export: as [`Access::JourneyRead`] for `collection=journeys` (or none), else any role
    ExportRead,
}

/// What a successful call writes to the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audit {
    /// nothing (unless an aggregate selects fewer than k journeys: see `guard::after`)
    No,
    /// this action
    Action(&'static str),
    /// a journey-level read: `read_persons` with `persons=true`, else `read_journey` for one
    /// journey (`one`) or `read_journeys` for a list; on a collection, only for `journeys`
    JourneyRead { one: bool },
}

/// Whether an answer's counts are aggregates a viewer sees only through disclosure control.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counts {
    /// no counts of journeys
    No,
    /// aggregates whose rows split into British Transport Police's part and the rest, which a
    /// `btp_planner` gets as BTP's part exact plus the published rest
    /// (`http::layers::combine_parts`)
    Split,
    /// aggregates without that split: a `btp_planner` gets them through disclosure control as
    /// a viewer does, so that a new aggregate is safe before it learns to split its counts
    Whole,
    /// an export: [`Counts::Split`] for the collections that split, else [`Counts::Whole`]
    ByExportCollection,
}

/// One operation: method, path template (`{name}` is one segment, `{name*}` the rest of the
/// path), who may call it, its audit and its counts.
#[derive(Debug)]
pub struct Entry {
    pub endpoint: Endpoint,
    pub verb: Verb,
    pub path: &'static str,
    pub access: Access,
    pub audit: Audit,
    pub counts: Counts,
    /// reads people (`/api/people…`): an analyst's, with an `X-Justification`, audited
    pub person_level: bool,
}

const fn e(
    endpoint: Endpoint,
    verb: Verb,
    path: &'static str,
    access: Access,
    audit: Audit,
    counts: Counts,
) -> Entry {
    Entry {
        endpoint,
        verb,
        path,
        access,
        audit,
        counts,
        person_level: false,
    }
}

const fn person(endpoint: Endpoint, path: &'static str) -> Entry {
    Entry {
        endpoint,
        verb: Verb::Get,
        path,
        access: Access::Role(Role::Analyst),
        audit: Audit::Action("read_persons"),
        counts: Counts::No,
        person_level: true,
    }
}

use Access::*;
use Counts::{ByExportCollection, Split, Whole};
use Endpoint as E;
use Verb::*;

const ANY: Access = Access::Role(Role::Viewer);
const ADMIN: Access = Access::Role(Role::Admin);
const NO: Audit = Audit::No;

/// The table.
#[rustfmt::skip]
pub static TABLE: &[Entry] = &[
    e(E::Landing, Get, "/", Public, NO, Counts::No),
    e(E::Asset, Get, "/assets/{path*}", Public, NO, Counts::No),
    e(E::Conformance, Get, "/conformance", Public, NO, Counts::No),
    e(E::OpenApi, Get, "/openapi", Public, NO, Counts::No),
    e(E::Health, Get, "/health", Public, NO, Counts::No),
    e(E::Collections, Get, "/collections", ANY, NO, Counts::No),
    e(E::Collection, Get, "/collections/{collectionId}", ANY, NO, Split),
    // the properties a filter may name: a schema, no counts
    e(E::Queryables, Get, "/collections/{collectionId}/queryables", ANY, NO, Counts::No),
    e(E::Items, Get, "/collections/{collectionId}/items", CollectionRead, Audit::JourneyRead { one: false }, Split),
    e(E::Item, Get, "/collections/{collectionId}/items/{featureId}", CollectionRead, Audit::JourneyRead { one: true }, Split),
    e(E::Ingest, Post, "/api/journeys", ADMIN, Audit::Action("ingest"), Counts::No),
    e(E::Journeys, Get, "/api/journeys", JourneyRead, Audit::JourneyRead { one: false }, Counts::No),
    e(E::Journey, Get, "/api/journeys/{id}", JourneyRead, Audit::JourneyRead { one: true }, Counts::No),
    e(E::Erase, Delete, "/api/journeys/{id}", ADMIN, Audit::Action("erase"), Counts::No),
    e(E::Rectify, Put, "/api/journeys/{id}", ADMIN, Audit::Action("rectify"), Counts::No),
    e(E::Versions, Get, "/api/journeys/{id}/versions", ADMIN, Audit::Action("read_versions"), Counts::No),
    e(E::Restrict, Post, "/api/journeys/{id}/restrict", ADMIN, Audit::Action("restrict"), Counts::No),
    e(E::Unrestrict, Post, "/api/journeys/{id}/unrestrict", ADMIN, Audit::Action("unrestrict"), Counts::No),
    e(E::Locate, Get, "/api/locate", ANY, NO, Counts::No),
    e(E::Route, Get, "/api/route", ANY, NO, Counts::No),
    e(E::Station, Get, "/api/stations/{crs}", ANY, NO, Split),
    e(E::Hotspots, Get, "/api/hotspots", ANY, NO, Split),
    e(E::Emerging, Get, "/api/hotspots/emerging", ANY, NO, Whole),
    e(E::Flows, Get, "/api/flows", ANY, NO, Split),
    e(E::Corridors, Get, "/api/corridors", ANY, NO, Whole),
    e(E::Trends, Get, "/api/trends", ANY, NO, Split),
    e(E::Treatment, Get, "/api/treatment", ANY, NO, Whole),
    e(E::Clock, Get, "/api/clock", ANY, NO, Whole),
    person(E::People, "/api/people"),
    person(E::Person, "/api/people/{psn}"),
    e(E::Export, Get, "/api/export", ExportRead, Audit::Action("export"), ByExportCollection),
    e(E::WhoAmI, Get, "/api/whoami", ANY, NO, Counts::No),
    // how the page signs in: nothing about the data or the caller
    e(E::AuthConfig, Get, "/api/auth/config", Public, NO, Counts::No),
    // the closed vocabularies (the words of the public report schema), for the page's forms
    e(E::Vocabulary, Get, "/api/vocabulary", Public, NO, Counts::No),
    e(E::Audit, Get, "/api/audit", ADMIN, Audit::Action("read_audit"), Counts::No),
    // MoPI review: the queue, and a decision (audited as `review_retain` or `review_dispose`:
    // the handler says which, see `guard::after`)
    e(E::Review, Get, "/api/review", ADMIN, Audit::Action("read_review"), Counts::No),
    e(E::ReviewDecision, Post, "/api/review/{id}", ADMIN, Audit::Action("review"), Counts::No),
    // OGC API - Tiles (issue 19): metadata for every role; a tile is read as the collection's
    // items are (journeys: journey-level, audited; the others aggregates, split for BTP)
    e(E::TileMatrixSets, Get, "/tileMatrixSets", ANY, NO, Counts::No),
    e(E::TileMatrixSet, Get, "/tileMatrixSets/WebMercatorQuad", ANY, NO, Counts::No),
    e(E::Tilesets, Get, "/collections/{collectionId}/tiles", ANY, NO, Counts::No),
    e(E::Tileset, Get, "/collections/{collectionId}/tiles/WebMercatorQuad", ANY, NO, Counts::No),
    e(E::Tile, Get, "/collections/{collectionId}/tiles/WebMercatorQuad/{z}/{x}/{y}", CollectionRead, Audit::JourneyRead { one: false }, Split),
];

/// A request resolved against the table.
#[derive(Debug)]
pub struct Resolved {
    /// the operation, when the path and method name one
    pub entry: Option<&'static Entry>,
    /// its path parameters, percent-decoded, in template order (for `{path*}`: the rest of
    /// the path, its segments joined by `/`)
    pub params: Vec<String>,
    /// the methods the path answers, when it names an operation but not with this method
    pub allow: Option<String>,
    /// what the request needs: the stricter of what the path needs as spelt and as its dot
    /// segments lead (`/api/x/../journeys` is judged as `/api/journeys`)
    pub need: Need,
    /// the path reads people, whatever the method (as spelt or as its dot segments lead)
    person_path: bool,
    query: String,
}

impl Resolved {
    /// The parameter named in the template (`{collectionId}`…).
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map_or("", String::as_str)
    }

    /// Reads people: `/api/people…`, or journeys with person summaries.
    pub fn person_level(&self) -> bool {
        self.person_path
    }

    /// The audit action of a successful answer.
    pub fn audit_action(&self) -> Option<&'static str> {
        let e = self.entry?;
        match e.audit {
            Audit::No => None,
            Audit::Action(a) => Some(a),
            Audit::JourneyRead { one } => {
                if matches!(
                    e.endpoint,
                    Endpoint::Items | Endpoint::Item | Endpoint::Tile
                ) && !self.journeys_collection()
                {
                    return None;
                }
                Some(if wants_persons(&self.query) {
                    "read_persons"
                } else if one {
                    "read_journey"
                } else {
                    "read_journeys"
                })
            }
        }
    }

    /// An aggregate whose counts a viewer sees only through disclosure control.
    pub fn aggregate(&self) -> bool {
        self.entry.is_some_and(|e| e.counts != Counts::No)
    }

    /// An aggregate that discloses to a `btp_planner` only the part it may not read.
    pub fn split(&self) -> bool {
        match self.entry.map(|e| e.counts) {
            Some(Counts::Split) => true,
            // every export's rows split into BTP's part and the rest
            Some(Counts::ByExportCollection) => export_collection(&self.query)
                .and_then(|c| Export::parse(&c))
                .is_some(),
            _ => false,
        }
    }

    /// Journey-level: a successful read is audited, and an aggregate over fewer than k
    /// journeys is one too.
    pub fn journey_level(&self) -> bool {
        self.entry.is_some_and(|e| {
            e.person_level
                || (matches!(e.audit, Audit::JourneyRead { .. })
                    && (!matches!(
                        e.endpoint,
                        Endpoint::Items | Endpoint::Item | Endpoint::Tile
                    ) || self.journeys_collection()))
        })
    }

    /// The path's collection is `journeys`.
    fn journeys_collection(&self) -> bool {
        Collection::parse(self.param(0)).is_some_and(Collection::journey_level)
    }
}

/// The path's segments: percent-decoded (`+` kept), empty and `.` segments dropped; `..`
/// applied when `dots` (as the path leads), else kept as a segment (as the router matches it).
fn segments(path: &str, dots: bool) -> Vec<String> {
    let decoded: String =
        form_urlencoded::parse(format!("p={}", path.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
    let mut parts: Vec<String> = Vec::new();
    for seg in decoded.split('/') {
        match seg {
            "" | "." => {}
            ".." if dots => {
                parts.pop();
            }
            s => parts.push(s.to_string()),
        }
    }
    parts
}

/// The path a policy judges, as a string (`/api/x/../journeys` → `/api/journeys`).
pub fn normalize(path: &str) -> String {
    format!("/{}", segments(path, true).join("/"))
}

/// Matches segments against a template; the parameters when they match.
fn matches(template: &str, segs: &[String]) -> Option<Vec<String>> {
    let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let mut params = Vec::new();
    for (i, t) in parts.iter().enumerate() {
        if t.starts_with('{') && t.ends_with("*}") {
            let rest = segs.get(i..).filter(|r| !r.is_empty())?;
            params.push(rest.join("/"));
            return Some(params);
        }
        let s = segs.get(i)?;
        if t.starts_with('{') {
            params.push(s.clone());
        } else if t != s {
            return None;
        }
    }
    (parts.len() == segs.len()).then_some(params)
}

/// What an entry needs for this query and these parameters.
fn need_of(e: &Entry, params: &[String], query: &str) -> Need {
    let journeys = |persons: bool| {
        Need::Role(if persons {
            Role::Analyst
        } else {
            Role::BtpPlanner
        })
    };
    match e.access {
        Access::Public => Need::Public,
        Access::Role(r) => Need::Role(r),
        Access::JourneyRead => journeys(wants_persons(query)),
        Access::CollectionRead
            if params
                .first()
                .and_then(|c| Collection::parse(c))
                .is_some_and(Collection::journey_level) =>
        {
            journeys(wants_persons(query))
        }
        Access::CollectionRead => Need::Role(Role::Viewer),
        Access::ExportRead
            if export_collection(query)
                .is_none_or(|c| Export::parse(&c).is_some_and(Export::journey_level)) =>
        {
            Need::Role(Role::BtpPlanner)
        }
        Access::ExportRead => Need::Role(Role::Viewer),
    }
}

fn stricter(a: Need, b: Need) -> Need {
    match (a, b) {
        (Need::Public, n) | (n, Need::Public) => n,
        (Need::Role(x), Need::Role(y)) => Need::Role(x.max(y)),
    }
}

/// The operation a request names with its path parameters, the operations on its path, and
/// what the path needs.
type Judged = (
    Option<(&'static Entry, Vec<String>)>,
    Vec<&'static Entry>,
    Need,
);

/// What the path needs when spelt as `segs`, and the operation if `verb` names one.
fn judge(verb: Option<Verb>, segs: &[String], query: &str) -> Judged {
    let mut found = None;
    let mut on_path = Vec::new();
    for e in TABLE {
        if let Some(params) = matches(e.path, segs) {
            if Some(e.verb) == verb && found.is_none() {
                found = Some((e, params.clone()));
            }
            on_path.push((e, params));
        }
    }
    let need = match &found {
        Some((e, params)) => need_of(e, params, query),
        // unknown paths need sign-in, so a stranger learns nothing from 404s; a method the
        // path does not answer needs what its strictest operation needs
        None => on_path.iter().fold(Need::Role(Role::Viewer), |n, (e, p)| {
            stricter(n, need_of(e, p, query))
        }),
    };
    (found, on_path.into_iter().map(|(e, _)| e).collect(), need)
}

/// Resolves `method path?query` against the table.
pub fn resolve(method: &str, path: &str, query: &str) -> Resolved {
    let verb = Verb::parse(method);
    let spelt = segments(path, false);
    let (found, on_path, need) = judge(verb, &spelt, query);
    let led = segments(path, true);
    let mut person_path = on_path.iter().any(|e| e.person_level);
    let need = if led == spelt {
        need
    } else {
        let (_, led_on_path, led_need) = judge(verb, &led, query);
        person_path |= led_on_path.iter().any(|e| e.person_level);
        stricter(need, led_need)
    };
    let allow = (found.is_none() && !on_path.is_empty()).then(|| allow_header(&on_path));
    let (entry, params) = match found {
        Some((e, p)) => (Some(e), p),
        None => (None, Vec::new()),
    };
    Resolved {
        entry,
        params,
        allow,
        need,
        person_path,
        query: query.to_string(),
    }
}

/// `GET, HEAD, POST…`: the methods of these operations, `HEAD` with every `GET`.
fn allow_header(entries: &[&'static Entry]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for v in [Verb::Get, Verb::Post, Verb::Put, Verb::Delete] {
        if entries.iter().any(|e| e.verb == v) {
            out.push(v.as_str());
            if v == Verb::Get {
                out.push("HEAD");
            }
        }
    }
    out.join(", ")
}

/// Whether a request needs no sign-in (for the security headers of public pages).
pub fn is_public(method: &str, path: &str) -> bool {
    resolve(method, path, "").need == Need::Public
}

/// The request asks for person summaries (`persons=true`, however often given).
pub fn wants_persons(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "persons" && v == "true")
}

/// The collection an export asks for (`None` when absent: the export then refuses it).
fn export_collection(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "collection")
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_by_path_and_role() {
        let need = |m: &str, p: &str, q: &str| resolve(m, p, q).need;
        assert_eq!(need("GET", "/", ""), Need::Public);
        assert_eq!(need("GET", "/health", ""), Need::Public);
        assert_eq!(need("GET", "/api/auth/config", ""), Need::Public);
        assert_eq!(
            need("POST", "/api/auth/config", ""),
            Need::Role(Role::Viewer)
        );
        let auth = resolve("GET", "/api/auth/config", "");
        assert!(!auth.aggregate() && !auth.journey_level() && auth.audit_action().is_none());
        assert_eq!(need("GET", "/assets/index.js", ""), Need::Public);
        assert_eq!(need("POST", "/health", ""), Need::Role(Role::Viewer));
        assert_eq!(need("GET", "/collections", ""), Need::Role(Role::Viewer));
        assert_eq!(
            need("GET", "/api/hotspots", "top=5"),
            Need::Role(Role::Viewer)
        );
        assert_eq!(
            need("GET", "/api/journeys", "limit=5"),
            Need::Role(Role::BtpPlanner)
        );
        assert_eq!(
            need("GET", "/api/journeys/x", "persons=true"),
            Need::Role(Role::Analyst)
        );
        assert_eq!(need("POST", "/api/journeys", ""), Need::Role(Role::Admin));
        assert_eq!(
            need("DELETE", "/api/journeys/x", ""),
            Need::Role(Role::Admin)
        );
        assert_eq!(
            need("GET", "/collections/journeys/items", "persons=true&limit=1"),
            Need::Role(Role::Analyst)
        );
        assert_eq!(
            need("GET", "/api/export", "collection=journeys"),
            Need::Role(Role::BtpPlanner)
        );
        assert_eq!(need("GET", "/api/export", ""), Need::Role(Role::BtpPlanner));
        assert_eq!(
            need("GET", "/api/export", "collection=hotspots"),
            Need::Role(Role::Viewer)
        );
        assert_eq!(need("GET", "/api/audit", ""), Need::Role(Role::Admin));
        assert_eq!(need("GET", "/nowhere", ""), Need::Role(Role::Viewer));
        assert!(Role::Viewer < Role::BtpPlanner && Role::Analyst < Role::Admin);
        assert_eq!(normalize("//api/./x/../journeys/"), "/api/journeys");
        assert_eq!(normalize("/api/%6Aourneys%2Fa"), "/api/journeys/a");
        assert_eq!(normalize("/a+b"), "/a+b");
        assert_eq!(
            need("GET", "/api//journeys", ""),
            Need::Role(Role::BtpPlanner)
        );
        assert_eq!(
            need("GET", "/assets/../api/journeys", ""),
            Need::Role(Role::BtpPlanner)
        );
    }

    #[test]
    fn every_path_template_and_method_is_in_the_table_once() {
        let mut seen = std::collections::HashSet::new();
        for e in TABLE {
            assert!(
                seen.insert((e.verb, e.path)),
                "{:?} {} twice",
                e.verb,
                e.path
            );
        }
        let mut endpoints = std::collections::HashSet::new();
        for e in TABLE {
            assert!(endpoints.insert(e.endpoint), "{:?} twice", e.endpoint);
        }
    }

    #[test]
    fn spellings_resolve_to_the_operation_they_spell() {
        let r = resolve("GET", "/api//journeys/syn-1", "");
        assert_eq!(r.entry.map(|e| e.endpoint), Some(Endpoint::Journey));
        assert_eq!(r.params, ["syn-1"]);
        let r = resolve("HEAD", "/collections/%6Aourneys/items", "persons=true");
        assert_eq!(r.entry.map(|e| e.endpoint), Some(Endpoint::Items));
        assert_eq!(r.need, Need::Role(Role::Analyst));
        assert_eq!(r.audit_action(), Some("read_persons"));
        // a dot segment is judged as where it leads, and routed as spelt
        let r = resolve("GET", "/api/x/../journeys", "");
        assert!(r.entry.is_none());
        assert_eq!(r.need, Need::Role(Role::BtpPlanner));
        let r = resolve("GET", "/api/journeys/%2E%2E", "");
        assert_eq!(r.entry.map(|e| e.endpoint), Some(Endpoint::Journey));
        assert_eq!(r.params, [".."]);
        assert_eq!(r.need, Need::Role(Role::BtpPlanner));
        let r = resolve("GET", "/assets/a/b.js", "");
        assert_eq!((r.param(0), r.need), ("a/b.js", Need::Public));
        assert_eq!(resolve("GET", "/assets", "").need, Need::Role(Role::Viewer));
    }

    #[test]
    fn a_method_a_path_does_not_answer_gets_its_allow_list_and_its_strictest_need() {
        let r = resolve("PUT", "/api/journeys", "");
        assert!(r.entry.is_none());
        assert_eq!(r.allow.as_deref(), Some("GET, HEAD, POST"));
        assert_eq!(r.need, Need::Role(Role::Admin));
        let r = resolve("GET", "/api/journeys/x/restrict", "");
        assert_eq!(r.allow.as_deref(), Some("POST"));
        let r = resolve("PUT", "/", "");
        assert_eq!(r.allow.as_deref(), Some("GET, HEAD"));
        assert_eq!(r.need, Need::Role(Role::Viewer));
        assert_eq!(
            resolve("DELETE", "/api/journeys/x", "").allow,
            None,
            "DELETE answers there"
        );
        assert!(resolve("GET", "/no/such", "").allow.is_none());
    }

    #[test]
    fn exports_need_what_their_collection_needs() {
        let need = |q: &str| resolve("GET", "/api/export", q).need;
        assert_eq!(need(""), Need::Role(Role::BtpPlanner));
        assert_eq!(need("collection=journeys"), Need::Role(Role::BtpPlanner));
        assert_eq!(need("collection=hotspots"), Need::Role(Role::Viewer));
        let r = resolve("GET", "/api/export/", "collection=corridors");
        assert!(r.aggregate() && !r.split());
        let r = resolve("GET", "/api/export", "collection=flows");
        assert!(r.aggregate() && r.split());
        assert_eq!(r.audit_action(), Some("export"));
    }

    #[test]
    fn the_openapi_document_lists_exactly_the_operations_of_the_table() {
        let doc: serde_json::Value =
            serde_json::from_slice(crate::http::openapi::document()).unwrap();
        let mut documented = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let r = resolve(&method.to_ascii_uppercase(), path, "");
                let e = r.entry.unwrap_or_else(|| {
                    panic!("{method} {path} is documented but not in the table")
                });
                documented.insert(e.endpoint);
            }
        }
        for e in TABLE {
            // the map page's files are not part of the API
            if e.endpoint != Endpoint::Asset {
                assert!(
                    documented.contains(&e.endpoint),
                    "{:?} {} is not documented",
                    e.verb,
                    e.path
                );
            }
        }
    }
}
