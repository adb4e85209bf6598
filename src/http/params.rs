//! Strict query-string parsing: unknown or repeated parameters are errors, values are parsed
//! into typed values with messages naming the parameter.

use super::error::ApiError;
use crate::geography::StationCode;

/// The parsed query string of one request.
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `raw`, accepting only the names in `allowed`; `f`, where allowed, is `json` or
    /// `geojson`.
    pub fn parse(raw: &str, allowed: &'static [&'static str]) -> Result<Params, ApiError> {
        Self::parse_with(raw, allowed, &["json", "geojson"])
    }

    /// The same for table endpoints, where `f` may also be `csv`.
    pub fn parse_table(raw: &str, allowed: &'static [&'static str]) -> Result<Params, ApiError> {
        Self::parse_with(raw, allowed, &["json", "geojson", "csv"])
    }

    /// With the given values of `f`.
    pub fn parse_formats(
        raw: &str,
        allowed: &'static [&'static str],
        formats: &[&str],
    ) -> Result<Params, ApiError> {
        Self::parse_with(raw, allowed, formats)
    }

    fn parse_with(
        raw: &str,
        allowed: &'static [&'static str],
        formats: &[&str],
    ) -> Result<Params, ApiError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
            if !allowed.contains(&k.as_ref()) {
                return Err(ApiError::UnknownParameter(k.into_owned(), allowed));
            }
            if k == "f" && !formats.contains(&v.as_ref()) {
                return Err(ApiError::InvalidParameter {
                    name: "f",
                    message: format!("\"{v}\" is not one of {}", formats.join(", ")),
                });
            }
            if pairs.iter().any(|(pk, _)| *pk == k) {
                return Err(ApiError::DuplicateParameter(k.into_owned()));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Params { pairs })
    }

    /// The same parameters less `names`.
    pub fn without(&self, names: &[&str]) -> Params {
        Params {
            pairs: self
                .pairs
                .iter()
                .filter(|(k, _)| !names.contains(&k.as_str()))
                .cloned()
                .collect(),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn require(&self, name: &'static str) -> Result<&str, ApiError> {
        self.get(name).ok_or(ApiError::MissingParameter(name))
    }

    pub fn f64(&self, name: &'static str) -> Result<Option<f64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| ApiError::InvalidParameter {
                        name,
                        message: format!("\"{v}\" is not a number"),
                    })
            })
            .transpose()
    }

    /// An integer in `[min, max]`.
    pub fn int(&self, name: &'static str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| match v.trim().parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::InvalidParameter {
                    name,
                    message: format!("\"{v}\" is not a whole number from {min} to {max}"),
                }),
            })
            .transpose()
    }

    pub fn station(&self, name: &'static str, v: &str) -> Result<StationCode, ApiError> {
        StationCode::parse(v).map_err(|message| ApiError::InvalidParameter { name, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_parameters_are_refused() {
        assert!(
            matches!(Params::parse("a=1&b=2", &["a"]), Err(ApiError::UnknownParameter(k, _)) if k == "b")
        );
        assert!(matches!(
            Params::parse("a=1&a=2", &["a"]),
            Err(ApiError::DuplicateParameter(_))
        ));
        let p = Params::parse("a=1.5&n=7", &["a", "n"]).unwrap();
        assert_eq!(p.f64("a").unwrap(), Some(1.5));
        assert_eq!(p.int("n", 1, 10).unwrap(), Some(7));
        assert!(p.int("n", 1, 5).is_err());
        assert!(Params::parse("a=NaN", &["a"]).unwrap().f64("a").is_err());
        assert!(Params::parse("a=inf", &["a"]).unwrap().f64("a").is_err());
    }
}
