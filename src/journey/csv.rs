//! Journey reports from CSV: one flat row per report, converted to the v1 JSON and then
//! validated like any other report.
//!
//! Columns (header names exact; order free; only the first five are required):
//! `report_id, reported_at, source_force, date, mode`, then `origin_station` or
//! `origin_lon`+`origin_lat`, `destination_station` or `destination_lon`+`destination_lat`,
//! and optionally `departed_at`, `via` (CRS codes separated by `;` or spaces), `line_id`,
//! `line_name`, `exporting_force`, `line_type`, and `persons` (a JSON array of persons as in the
//! JSON schema). Empty cells are absent fields.

use super::report::FieldError;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const COLUMNS: &[&str] = &[
    "report_id",
    "reported_at",
    "source_force",
    "date",
    "mode",
    "departed_at",
    "origin_station",
    "origin_lon",
    "origin_lat",
    "destination_station",
    "destination_lon",
    "destination_lat",
    "via",
    "line_id",
    "line_name",
    "exporting_force",
    "line_type",
    "persons",
];

/// Converts CSV text into report JSON values, one per data row; a row that cannot be converted
/// is an error naming its line. A bad header is an error for the whole file.
pub fn csv_to_reports(text: &str) -> Result<Vec<Result<Value, FieldError>>, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let headers = rdr.headers().map_err(|e| format!("line 1: {e}"))?.clone();
    for h in headers.iter() {
        if !COLUMNS.contains(&h.trim()) {
            return Err(format!(
                "line 1: unknown column \"{h}\"; expected some of: {}",
                COLUMNS.join(", ")
            ));
        }
    }
    for required in &COLUMNS[..5] {
        if !headers.iter().any(|h| h.trim() == *required) {
            return Err(format!("line 1: missing column \"{required}\""));
        }
    }
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let cols: Vec<(&str, Option<usize>)> = COLUMNS.iter().map(|c| (*c, col(c))).collect();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                out.push(Err(FieldError {
                    path: String::new(),
                    message: format!("line {line}: {e}"),
                }));
                continue;
            }
        };
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        let row: HashMap<&str, &str> = cols
            .iter()
            .filter_map(|(name, i)| {
                let v = rec.get((*i)?)?.trim();
                (!v.is_empty()).then_some((*name, v))
            })
            .collect();
        out.push(row_to_report(&row).map_err(|message| FieldError {
            path: String::new(),
            message: format!("line {line}: {message}"),
        }));
    }
    Ok(out)
}

fn row_to_report(row: &HashMap<&str, &str>) -> Result<Value, String> {
    let get = |k: &str| row.get(k).copied();
    let mut report = Map::new();
    for k in ["report_id", "reported_at", "source_force"] {
        if let Some(v) = get(k) {
            report.insert(k.into(), json!(v));
        }
    }
    let num = |name: &str| -> Result<Option<f64>, String> {
        get(name)
            .map(|s| {
                s.parse::<f64>()
                    .map_err(|_| format!("{name} \"{s}\" is not a number"))
            })
            .transpose()
    };
    let place = |prefix: &str| -> Result<Option<Value>, String> {
        if let Some(s) = get(&format!("{prefix}_station")) {
            return Ok(Some(json!({"station": s})));
        }
        match (
            num(&format!("{prefix}_lon"))?,
            num(&format!("{prefix}_lat"))?,
        ) {
            (Some(lon), Some(lat)) => Ok(Some(json!({"lon": lon, "lat": lat}))),
            (None, None) => Ok(None),
            _ => Err(format!("{prefix}_lon and {prefix}_lat go together")),
        }
    };
    let mut journey = Map::new();
    for k in ["date", "mode", "departed_at"] {
        if let Some(v) = get(k) {
            journey.insert(k.into(), json!(v));
        }
    }
    if let Some(p) = place("origin")? {
        journey.insert("origin".into(), p);
    }
    if let Some(p) = place("destination")? {
        journey.insert("destination".into(), p);
    }
    if let Some(v) = get("via") {
        let via: Vec<&str> = v.split([';', ' ']).filter(|s| !s.is_empty()).collect();
        journey.insert("via".into(), json!(via));
    }
    report.insert("journey".into(), Value::Object(journey));
    if let Some(id) = get("line_id") {
        let mut line = Map::new();
        line.insert("line_id".into(), json!(id));
        for (col, key) in [
            ("line_name", "name"),
            ("exporting_force", "exporting_force"),
            ("line_type", "line_type"),
        ] {
            if let Some(v) = get(col) {
                line.insert(key.into(), json!(v));
            }
        }
        report.insert("line".into(), Value::Object(line));
    } else if get("line_name").is_some() || get("exporting_force").is_some() {
        return Err("line_name and exporting_force need a line_id".into());
    }
    if let Some(p) = get("persons") {
        let v: Value =
            serde_json::from_str(p).map_err(|e| format!("persons is not a JSON array: {e}"))?;
        report.insert("persons".into(), v);
    }
    Ok(Value::Object(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_becomes_the_nested_report() {
        let text = "report_id,reported_at,source_force,date,mode,origin_station,destination_lon,destination_lat,via,line_id,exporting_force,persons\n\
                    r1,2024-03-06T10:00:00Z,BTP,2024-03-06,rail,EUS,1.29,52.63,CRE;PRE,l1,E23000001,\"[{\"\"person_id\"\":\"\"p1\"\",\"\"age_band\"\":\"\"15-17\"\"}]\"\n";
        let rows = csv_to_reports(text).unwrap();
        let v = rows[0].as_ref().unwrap();
        assert_eq!(v["journey"]["origin"], json!({"station": "EUS"}));
        assert_eq!(
            v["journey"]["destination"],
            json!({"lon": 1.29, "lat": 52.63})
        );
        assert_eq!(v["journey"]["via"], json!(["CRE", "PRE"]));
        assert_eq!(v["line"]["exporting_force"], "E23000001");
        assert_eq!(v["persons"][0]["age_band"], "15-17");
    }

    #[test]
    fn bad_headers_and_rows_name_the_line() {
        assert!(
            csv_to_reports("report_id,colour\n")
                .unwrap_err()
                .contains("unknown column \"colour\"")
        );
        assert!(
            csv_to_reports("report_id,reported_at\n")
                .unwrap_err()
                .contains("missing column \"source_force\"")
        );
        let rows = csv_to_reports(
            "report_id,reported_at,source_force,date,mode,origin_lon\nr,t,BTP,d,rail,abc\n",
        )
        .unwrap();
        assert_eq!(
            rows[0].as_ref().unwrap_err().message,
            "line 2: origin_lon \"abc\" is not a number"
        );
    }
}
