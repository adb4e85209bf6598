//! CQL2 filter expressions (OGC 21-065r2, Common Query Language) for OGC API – Features Part 3:
//! the text encoding read by a recursive-descent parser, the JSON encoding read from a serde
//! value, both into one typed [`Expr`]; a printer back to CQL2 text; a check against a
//! collection's queryables (unknown properties and type mismatches are errors); and the
//! evaluation on a feature's properties and geometry, with SQL's three-valued logic (a
//! comparison with a null is unknown, and only true selects).
//!
//! What is read: basic CQL2 (`= <> < > <= >=`, `AND`, `OR`, `NOT`, `IS [NOT] NULL`, boolean,
//! string, number, `DATE(…)` and `TIMESTAMP(…)` literals), the advanced comparison operators
//! (`[NOT] LIKE` with `%`, `_` and `\` escapes, `[NOT] BETWEEN`, `[NOT] IN`), `CASEI`, and the
//! basic spatial function `S_INTERSECTS` of the feature's geometry with a `BBOX` or a WKT
//! `POINT`, `LINESTRING`, `POLYGON`, `MULTIPOINT`, `MULTILINESTRING` or `MULTIPOLYGON` given in
//! `filter-crs`. Every error names where it is: a character position (1-based) in the text, a
//! JSON pointer in the JSON. An expression is at most [`MAX_LEN`] characters and
//! [`MAX_DEPTH`] levels deep, so no filter can exhaust the stack.
//!
//! Rule names in comments are those of the BNF in OGC 21-065r2 Annex A (normative), `cql2.bnf`.

use super::crs::Crs;
use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon};
use geo::{Point, Polygon, Rect};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

/// The longest filter read, in characters (bytes of the text, or of the JSON).
pub const MAX_LEN: usize = 4_096;
/// The deepest nesting of expressions read (parentheses, NOT, AND/OR, JSON objects).
pub const MAX_DEPTH: usize = 64;

/// Where an error is and what it is.
#[derive(Clone, Debug, PartialEq)]
pub struct CqlError {
    /// "character 12", or a JSON pointer such as "/args/1"
    pub at: String,
    pub message: String,
}

impl fmt::Display for CqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.at, self.message)
    }
}

fn err_at(pos: usize, message: impl Into<String>) -> CqlError {
    CqlError {
        at: format!("character {}", pos + 1),
        message: message.into(),
    }
}

/// The comparison operators (`comparisonOperator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

impl CmpOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Ge => ">=",
        }
    }

    fn parse(s: &str) -> Option<CmpOp> {
        Some(match s {
            "=" => CmpOp::Eq,
            "<>" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            ">" => CmpOp::Gt,
            "<=" => CmpOp::Le,
            ">=" => CmpOp::Ge,
            _ => return None,
        })
    }

    /// Whether the operator holds between two values so ordered.
    pub fn holds(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }
}

/// A scalar operand: a property, a literal, or `CASEI` of one.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    Property(String),
    Str(String),
    Num(f64),
    Bool(bool),
    /// `DATE('YYYY-MM-DD')`
    Date(String),
    /// `TIMESTAMP('…Z')`, RFC 3339
    Timestamp(String),
    /// `CASEI(…)`: compared lower-cased
    Casei(Box<Scalar>),
}

/// A CQL2 boolean expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Literal(bool),
    Compare(CmpOp, Scalar, Scalar),
    Like {
        value: Scalar,
        pattern: Scalar,
        negated: bool,
    },
    Between {
        value: Scalar,
        low: Scalar,
        high: Scalar,
        negated: bool,
    },
    In {
        value: Scalar,
        list: Vec<Scalar>,
        negated: bool,
    },
    IsNull {
        value: Scalar,
        negated: bool,
    },
    /// `S_INTERSECTS(property, geometry)`, the geometry in CRS84 lon/lat
    Intersects(String, Geometry<f64>),
}

// ------------------------------------------------------------------------------ text parser

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// an identifier or keyword; `quoted` when written in double quotes
    Ident(String, bool),
    Str(String),
    Num(f64),
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    End,
}

fn tokenize(s: &str) -> Result<Vec<(Tok, usize)>, CqlError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => {
                out.push((Tok::LParen, start));
                i += 1;
            }
            b')' => {
                out.push((Tok::RParen, start));
                i += 1;
            }
            b',' => {
                out.push((Tok::Comma, start));
                i += 1;
            }
            b'=' => {
                out.push((Tok::Op("="), start));
                i += 1;
            }
            b'<' | b'>' => {
                let two = b.get(i + 1).copied();
                let op = match (c, two) {
                    (b'<', Some(b'>')) => "<>",
                    (b'<', Some(b'=')) => "<=",
                    (b'>', Some(b'=')) => ">=",
                    (b'<', _) => "<",
                    _ => ">",
                };
                i += op.len();
                out.push((Tok::Op(op), start));
            }
            // characterLiteral: quotes doubled inside
            b'\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    let rest = &s[i..];
                    let Some(q) = rest.find('\'') else {
                        return Err(err_at(start, "a string literal is not closed with '"));
                    };
                    v.push_str(&rest[..q]);
                    i += q + 1;
                    if b.get(i) == Some(&b'\'') {
                        v.push('\'');
                        i += 1;
                    } else {
                        break;
                    }
                }
                out.push((Tok::Str(v), start));
            }
            // propertyName = "\"" identifier "\""
            b'"' => {
                let rest = &s[i + 1..];
                let Some(q) = rest.find('"') else {
                    return Err(err_at(
                        start,
                        "a quoted property name is not closed with \"",
                    ));
                };
                let name = &rest[..q];
                if name.is_empty() {
                    return Err(err_at(start, "an empty property name"));
                }
                out.push((Tok::Ident(name.to_string(), true), start));
                i += q + 2;
            }
            // unsignedNumericLiteral / signedNumericLiteral
            b'0'..=b'9' | b'.' | b'-' | b'+' => {
                let mut j = i + 1;
                while j < b.len()
                    && (b[j].is_ascii_digit()
                        || b[j] == b'.'
                        || b[j] == b'e'
                        || b[j] == b'E'
                        || ((b[j] == b'-' || b[j] == b'+') && matches!(b[j - 1], b'e' | b'E')))
                {
                    j += 1;
                }
                let text = &s[i..j];
                let v: f64 = text
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite())
                    .ok_or_else(|| err_at(start, format!("\"{text}\" is not a number")))?;
                out.push((Tok::Num(v), start));
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b':')
                {
                    j += 1;
                }
                out.push((Tok::Ident(s[i..j].to_string(), false), start));
                i = j;
            }
            _ => {
                let ch = s[i..].chars().next().unwrap_or('?');
                return Err(err_at(start, format!("unexpected character '{ch}'")));
            }
        }
    }
    out.push((Tok::End, s.len()));
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<(Tok, usize)>,
    i: usize,
    depth: usize,
    crs: Crs,
    _src: &'a str,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s, _) => format!("\"{s}\""),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Num(n) => n.to_string(),
        Tok::Op(o) => format!("\"{o}\""),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::End => "the end".into(),
    }
}

const RESERVED: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "LIKE",
    "BETWEEN",
    "IN",
    "IS",
    "NULL",
    "TRUE",
    "FALSE",
    "CASEI",
    "DATE",
    "TIMESTAMP",
    "BBOX",
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
    "S_INTERSECTS",
];

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].0
    }
    fn pos(&self) -> usize {
        self.toks[self.i].1
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.i].0.clone();
        if self.i + 1 < self.toks.len() {
            self.i += 1;
        }
        t
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s, false) if s.eq_ignore_ascii_case(kw))
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        let yes = self.is_kw(kw);
        if yes {
            self.next();
        }
        yes
    }
    fn expect(&mut self, want: Tok, what: &str) -> Result<(), CqlError> {
        if *self.peek() == want {
            self.next();
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }
    fn expect_kw(&mut self, kw: &str) -> Result<(), CqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected(kw))
        }
    }
    fn unexpected(&self, want: &str) -> CqlError {
        err_at(
            self.pos(),
            format!("expected {want}, found {}", describe(self.peek())),
        )
    }
    fn deeper(&mut self) -> Result<(), CqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(err_at(
                self.pos(),
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// booleanExpression = booleanTerm {"OR" booleanTerm}
    fn expression(&mut self) -> Result<Expr, CqlError> {
        self.deeper()?;
        let mut terms = vec![self.term()?];
        while self.eat_kw("OR") {
            terms.push(self.term()?);
        }
        self.depth -= 1;
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    /// booleanTerm = booleanFactor {"AND" booleanFactor}
    fn term(&mut self) -> Result<Expr, CqlError> {
        let mut factors = vec![self.factor()?];
        while self.eat_kw("AND") {
            factors.push(self.factor()?);
        }
        Ok(if factors.len() == 1 {
            factors.remove(0)
        } else {
            Expr::And(factors)
        })
    }

    /// booleanFactor = ["NOT"] booleanPrimary
    fn factor(&mut self) -> Result<Expr, CqlError> {
        if self.eat_kw("NOT") {
            self.deeper()?;
            let e = self.factor()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.primary()
    }

    /// booleanPrimary = function | predicate | booleanLiteral | "(" booleanExpression ")"
    fn primary(&mut self) -> Result<Expr, CqlError> {
        if *self.peek() == Tok::LParen {
            self.next();
            let e = self.expression()?;
            self.expect(Tok::RParen, "\")\"")?;
            return Ok(e);
        }
        // spatialPredicate = spatialFunction "(" geomExpression "," geomExpression ")"
        if self.is_kw("S_INTERSECTS") {
            return self.spatial();
        }
        if let Tok::Ident(s, false) = self.peek()
            && s.len() > 2
            && (s[..2].eq_ignore_ascii_case("S_") || s[..2].eq_ignore_ascii_case("T_"))
            && self.toks.get(self.i + 1).map(|t| &t.0) == Some(&Tok::LParen)
        {
            return Err(err_at(
                self.pos(),
                format!(
                    "{s} is not supported: of the spatial and temporal functions only S_INTERSECTS is"
                ),
            ));
        }
        // booleanLiteral, unless it is the left side of a predicate (TRUE = x)
        if self.is_kw("TRUE") || self.is_kw("FALSE") {
            let next = self.toks.get(self.i + 1).map(|t| &t.0);
            let predicate = matches!(next, Some(Tok::Op(_)))
                || matches!(next, Some(Tok::Ident(s, false))
                    if ["LIKE", "BETWEEN", "IN", "IS", "NOT"].iter().any(|k| s.eq_ignore_ascii_case(k)));
            if !predicate {
                let v = self.is_kw("TRUE");
                self.next();
                return Ok(Expr::Literal(v));
            }
        }
        self.predicate()
    }

    /// comparisonPredicate = binaryComparisonPredicate | isLikePredicate | isBetweenPredicate
    /// | isInListPredicate | isNullPredicate
    fn predicate(&mut self) -> Result<Expr, CqlError> {
        let value = self.scalar()?;
        // isNullPredicate = isNullOperand "IS" ["NOT"] "NULL"
        if self.eat_kw("IS") {
            let negated = self.eat_kw("NOT");
            self.expect_kw("NULL")?;
            return Ok(Expr::IsNull { value, negated });
        }
        let negated = self.eat_kw("NOT");
        // isLikePredicate = characterExpression ["NOT"] "LIKE" patternExpression
        if self.eat_kw("LIKE") {
            let pattern = self.scalar()?;
            return Ok(Expr::Like {
                value,
                pattern,
                negated,
            });
        }
        // isBetweenPredicate = numericExpression ["NOT"] "BETWEEN" numericExpression "AND"
        // numericExpression
        if self.eat_kw("BETWEEN") {
            let low = self.scalar()?;
            self.expect_kw("AND")?;
            let high = self.scalar()?;
            return Ok(Expr::Between {
                value,
                low,
                high,
                negated,
            });
        }
        // isInListPredicate = scalarExpression ["NOT"] "IN" "(" inList ")"
        if self.eat_kw("IN") {
            self.expect(Tok::LParen, "\"(\"")?;
            let mut list = vec![self.scalar()?];
            while *self.peek() == Tok::Comma {
                self.next();
                list.push(self.scalar()?);
            }
            self.expect(Tok::RParen, "\")\"")?;
            return Ok(Expr::In {
                value,
                list,
                negated,
            });
        }
        if negated {
            return Err(self.unexpected("LIKE, BETWEEN or IN after NOT"));
        }
        // binaryComparisonPredicate = scalarExpression comparisonOperator scalarExpression
        match self.peek().clone() {
            Tok::Op(op) => {
                self.next();
                let right = self.scalar()?;
                Ok(Expr::Compare(
                    CmpOp::parse(op).unwrap_or(CmpOp::Eq),
                    value,
                    right,
                ))
            }
            _ => Err(self.unexpected("a comparison operator, LIKE, BETWEEN, IN or IS")),
        }
    }

    /// scalarExpression = characterClause | numericLiteral | instantInstance | booleanLiteral
    /// | propertyName (arithmetic and other functions are not supported)
    fn scalar(&mut self) -> Result<Scalar, CqlError> {
        let at = self.pos();
        match self.next() {
            Tok::Str(s) => Ok(Scalar::Str(s)),
            Tok::Num(n) => Ok(Scalar::Num(n)),
            Tok::Ident(s, true) => Ok(Scalar::Property(s)),
            Tok::Ident(s, false) => {
                let up = s.to_ascii_uppercase();
                // CASEI, DATE and TIMESTAMP are functions only before "(": `date` is a
                // property of journeys
                let call = *self.peek() == Tok::LParen;
                match up.as_str() {
                    "CASEI" | "DATE" | "TIMESTAMP" if !call => Ok(Scalar::Property(s)),
                    "TRUE" => Ok(Scalar::Bool(true)),
                    "FALSE" => Ok(Scalar::Bool(false)),
                    // characterClause = "CASEI" "(" characterExpression ")"
                    "CASEI" => {
                        self.expect(Tok::LParen, "\"(\" after CASEI")?;
                        self.deeper()?;
                        let inner = self.scalar()?;
                        self.depth -= 1;
                        self.expect(Tok::RParen, "\")\"")?;
                        Ok(Scalar::Casei(Box::new(inner)))
                    }
                    // instantInstance = dateInstant | timestampInstant
                    "DATE" | "TIMESTAMP" => {
                        self.expect(Tok::LParen, &format!("\"(\" after {up}"))?;
                        let sat = self.pos();
                        let Tok::Str(v) = self.next() else {
                            return Err(err_at(sat, format!("{up} takes a quoted string")));
                        };
                        self.expect(Tok::RParen, "\")\"")?;
                        if up == "DATE" {
                            date_literal(&v).map_err(|m| err_at(sat, m))?;
                            Ok(Scalar::Date(v))
                        } else {
                            timestamp_literal(&v).map_err(|m| err_at(sat, m))?;
                            Ok(Scalar::Timestamp(v))
                        }
                    }
                    _ if RESERVED.contains(&up.as_str()) => Err(err_at(
                        at,
                        format!("expected a property or a literal, found the keyword {up}"),
                    )),
                    _ if *self.peek() == Tok::LParen => Err(err_at(
                        at,
                        format!("the function {s} is not supported (no /functions)"),
                    )),
                    _ => Ok(Scalar::Property(s)),
                }
            }
            t => Err(err_at(
                at,
                format!("expected a property or a literal, found {}", describe(&t)),
            )),
        }
    }

    fn spatial(&mut self) -> Result<Expr, CqlError> {
        self.next();
        self.expect(Tok::LParen, "\"(\" after S_INTERSECTS")?;
        let a = self.geom_expression()?;
        self.expect(Tok::Comma, "\",\"")?;
        let b = self.geom_expression()?;
        self.expect(Tok::RParen, "\")\"")?;
        match (a, b) {
            (GeomArg::Prop(p), GeomArg::Geom(g)) | (GeomArg::Geom(g), GeomArg::Prop(p)) => {
                Ok(Expr::Intersects(p, g))
            }
            _ => Err(err_at(
                self.pos(),
                "S_INTERSECTS takes the geometry property and a literal geometry",
            )),
        }
    }

    /// geomExpression = spatialInstance | propertyName
    fn geom_expression(&mut self) -> Result<GeomArg, CqlError> {
        let at = self.pos();
        let t = self.next();
        let (name, quoted) = match t {
            Tok::Ident(s, q) => (s, q),
            t => {
                return Err(err_at(
                    at,
                    format!("expected a geometry or a property, found {}", describe(&t)),
                ));
            }
        };
        if quoted {
            return Ok(GeomArg::Prop(name));
        }
        let up = name.to_ascii_uppercase();
        let coords = |p: &mut Parser| -> Result<Geometry<f64>, CqlError> {
            p.deeper()?;
            let g = match up.as_str() {
                // bboxTaggedText = "BBOX" bboxText
                "BBOX" => {
                    let v = p.numbers()?;
                    let b = match v.len() {
                        4 => [v[0], v[1], v[2], v[3]],
                        6 => [v[0], v[1], v[3], v[4]],
                        _ => return Err(err_at(at, "BBOX takes 4 or 6 numbers")),
                    };
                    if b[0] > b[2] || b[1] > b[3] {
                        return Err(err_at(at, "BBOX: the lower corner comes first"));
                    }
                    let b = p
                        .crs
                        .bbox_to_lonlat(b)
                        .ok_or_else(|| err_at(at, "BBOX cannot be projected to lon/lat"))?;
                    Geometry::Rect(Rect::new(
                        Coord { x: b[0], y: b[1] },
                        Coord { x: b[2], y: b[3] },
                    ))
                }
                // pointTaggedText = "POINT" pointText
                "POINT" => Geometry::Point(Point(p.point_text(at)?)),
                // linestringTaggedText = "LINESTRING" lineStringText
                "LINESTRING" => Geometry::LineString(LineString(p.line_text(at)?)),
                // polygonTaggedText = "POLYGON" polygonText
                "POLYGON" => Geometry::Polygon(p.polygon_text(at)?),
                // multipointTaggedText = "MULTIPOINT" multiPointText
                "MULTIPOINT" => {
                    let pts = p.list(|p| {
                        // points may be bare or in parentheses
                        if *p.peek() == Tok::LParen {
                            p.point_text(at)
                        } else {
                            p.coord(at)
                        }
                    })?;
                    Geometry::MultiPoint(MultiPoint(pts.into_iter().map(Point).collect()))
                }
                "MULTILINESTRING" => Geometry::MultiLineString(MultiLineString(
                    p.list(|p| p.line_text(at).map(LineString))?,
                )),
                "MULTIPOLYGON" => {
                    Geometry::MultiPolygon(MultiPolygon(p.list(|p| p.polygon_text(at))?))
                }
                _ => unreachable!("checked below"),
            };
            p.depth -= 1;
            Ok(g)
        };
        match up.as_str() {
            "BBOX" | "POINT" | "LINESTRING" | "POLYGON" | "MULTIPOINT" | "MULTILINESTRING"
            | "MULTIPOLYGON" => Ok(GeomArg::Geom(coords(self)?)),
            "GEOMETRYCOLLECTION" | "ENVELOPE" => Err(err_at(
                at,
                format!(
                    "{up} is not supported: use BBOX or a POINT, LINESTRING, POLYGON or MULTI* geometry"
                ),
            )),
            _ if RESERVED.contains(&up.as_str()) => {
                Err(err_at(at, format!("expected a geometry, found {up}")))
            }
            _ => Ok(GeomArg::Prop(name)),
        }
    }

    /// "(" number {"," number} ")"
    fn numbers(&mut self) -> Result<Vec<f64>, CqlError> {
        self.expect(Tok::LParen, "\"(\"")?;
        let mut v = Vec::new();
        loop {
            let at = self.pos();
            match self.next() {
                Tok::Num(n) => v.push(n),
                t => {
                    return Err(err_at(
                        at,
                        format!("expected a number, found {}", describe(&t)),
                    ));
                }
            }
            match self.next() {
                Tok::Comma => {}
                Tok::RParen => return Ok(v),
                t => {
                    return Err(err_at(
                        self.pos(),
                        format!("expected \",\" or \")\", found {}", describe(&t)),
                    ));
                }
            }
        }
    }

    /// point = xCoord yCoord [zCoord], in filter-crs
    fn coord(&mut self, at: usize) -> Result<Coord<f64>, CqlError> {
        let mut v = Vec::new();
        while let Tok::Num(n) = self.peek() {
            v.push(*n);
            self.next();
        }
        if v.len() != 2 && v.len() != 3 {
            return Err(err_at(
                self.pos(),
                format!("a position is 2 or 3 numbers, found {}", v.len()),
            ));
        }
        let p = self
            .crs
            .to_lonlat([v[0], v[1]])
            .ok_or_else(|| err_at(at, "a position cannot be projected to lon/lat"))?;
        Ok(Coord { x: p[0], y: p[1] })
    }

    /// pointText = "(" point ")"
    fn point_text(&mut self, at: usize) -> Result<Coord<f64>, CqlError> {
        self.expect(Tok::LParen, "\"(\"")?;
        let c = self.coord(at)?;
        self.expect(Tok::RParen, "\")\"")?;
        Ok(c)
    }

    /// "(" item {"," item} ")"
    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, CqlError>,
    ) -> Result<Vec<T>, CqlError> {
        self.expect(Tok::LParen, "\"(\"")?;
        self.deeper()?;
        let mut v = vec![item(self)?];
        while *self.peek() == Tok::Comma {
            self.next();
            v.push(item(self)?);
        }
        self.depth -= 1;
        self.expect(Tok::RParen, "\",\" or \")\"")?;
        Ok(v)
    }

    /// lineStringText = "(" point "," point {"," point} ")"
    fn line_text(&mut self, at: usize) -> Result<Vec<Coord<f64>>, CqlError> {
        let pos = self.pos();
        let v = self.list(|p| p.coord(at))?;
        if v.len() < 2 {
            return Err(err_at(pos, "a line string has at least 2 positions"));
        }
        Ok(v)
    }

    /// polygonText = "(" linearRingText {"," linearRingText} ")"; a ring closed, 4+ positions
    fn polygon_text(&mut self, at: usize) -> Result<Polygon<f64>, CqlError> {
        let pos = self.pos();
        let mut rings = self.list(|p| {
            let rp = p.pos();
            let r = p.list(|p| p.coord(at))?;
            if r.len() < 4 || r.first() != r.last() {
                return Err(err_at(
                    rp,
                    "a polygon ring is closed (its last position is its first) and has at least 4 positions",
                ));
            }
            Ok(LineString(r))
        })?;
        if rings.is_empty() {
            return Err(err_at(pos, "a polygon has a ring"));
        }
        let outer = rings.remove(0);
        Ok(Polygon::new(outer, rings))
    }
}

enum GeomArg {
    Prop(String),
    Geom(Geometry<f64>),
}

fn date_literal(s: &str) -> Result<(), String> {
    crate::journey::report::parse_date(s)
        .map(|_| ())
        .ok_or_else(|| format!("'{s}' is not a date YYYY-MM-DD"))
}

fn timestamp_literal(s: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("'{s}' is not an RFC 3339 timestamp"))
}

/// Parses CQL2 text; coordinates in `crs` (filter-crs).
pub fn parse_text(s: &str, crs: Crs) -> Result<Expr, CqlError> {
    if s.len() > MAX_LEN {
        return Err(err_at(
            MAX_LEN,
            format!("the filter is longer than {MAX_LEN} characters"),
        ));
    }
    let toks = tokenize(s)?;
    let mut p = Parser {
        toks,
        i: 0,
        depth: 0,
        crs,
        _src: s,
    };
    let e = p.expression()?;
    if *p.peek() != Tok::End {
        return Err(p.unexpected("AND, OR or the end"));
    }
    Ok(e)
}

// ------------------------------------------------------------------------------ JSON parser

fn jerr(path: &str, message: impl Into<String>) -> CqlError {
    CqlError {
        at: if path.is_empty() {
            "/".into()
        } else {
            path.to_string()
        },
        message: message.into(),
    }
}

/// Parses CQL2 JSON (OGC 21-065r2 Annex B, `cql2.json` schema); coordinates in `crs`.
pub fn parse_json(s: &str, crs: Crs) -> Result<Expr, CqlError> {
    if s.len() > MAX_LEN {
        return Err(jerr(
            "",
            format!("the filter is longer than {MAX_LEN} characters"),
        ));
    }
    let v: Value = serde_json::from_str(s).map_err(|e| CqlError {
        at: format!("line {} column {}", e.line(), e.column()),
        message: format!("not JSON: {e}"),
    })?;
    json_expr(&v, "", 0, crs)
}

fn op_args<'a>(v: &'a Value, path: &str) -> Result<(String, &'a [Value]), CqlError> {
    let o = v
        .as_object()
        .ok_or_else(|| jerr(path, "expected an object {\"op\": …, \"args\": […]}"))?;
    let op = o
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| jerr(path, "expected \"op\" (a string)"))?;
    let args = o
        .get("args")
        .and_then(Value::as_array)
        .ok_or_else(|| jerr(&format!("{path}/args"), "expected \"args\" (an array)"))?;
    if let Some(k) = o.keys().find(|k| *k != "op" && *k != "args") {
        return Err(jerr(path, format!("unexpected member \"{k}\"")));
    }
    Ok((op.to_ascii_lowercase(), args.as_slice()))
}

fn json_expr(v: &Value, path: &str, depth: usize, crs: Crs) -> Result<Expr, CqlError> {
    if depth > MAX_DEPTH {
        return Err(jerr(
            path,
            format!("the expression nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    if let Value::Bool(b) = v {
        return Ok(Expr::Literal(*b));
    }
    let (op, args) = op_args(v, path)?;
    let arg = |i: usize| format!("{path}/args/{i}");
    let n = |want: usize| -> Result<(), CqlError> {
        if args.len() == want {
            Ok(())
        } else {
            Err(jerr(
                &format!("{path}/args"),
                format!("\"{op}\" takes {want} arguments, not {}", args.len()),
            ))
        }
    };
    let scalar = |i: usize| json_scalar(&args[i], &arg(i), depth + 1);
    Ok(match op.as_str() {
        "and" | "or" => {
            if args.len() < 2 {
                return Err(jerr(
                    &format!("{path}/args"),
                    format!("\"{op}\" takes at least 2 arguments"),
                ));
            }
            let v = args
                .iter()
                .enumerate()
                .map(|(i, a)| json_expr(a, &arg(i), depth + 1, crs))
                .collect::<Result<Vec<_>, _>>()?;
            if op == "and" {
                Expr::And(v)
            } else {
                Expr::Or(v)
            }
        }
        "not" => {
            n(1)?;
            Expr::Not(Box::new(json_expr(&args[0], &arg(0), depth + 1, crs)?))
        }
        "=" | "<>" | "<" | ">" | "<=" | ">=" => {
            n(2)?;
            Expr::Compare(
                CmpOp::parse(&op).unwrap_or(CmpOp::Eq),
                scalar(0)?,
                scalar(1)?,
            )
        }
        "like" => {
            n(2)?;
            Expr::Like {
                value: scalar(0)?,
                pattern: scalar(1)?,
                negated: false,
            }
        }
        "between" => {
            n(3)?;
            Expr::Between {
                value: scalar(0)?,
                low: scalar(1)?,
                high: scalar(2)?,
                negated: false,
            }
        }
        "in" => {
            n(2)?;
            let list = args[1]
                .as_array()
                .ok_or_else(|| jerr(&arg(1), "\"in\" takes a list (an array) second"))?;
            if list.is_empty() {
                return Err(jerr(&arg(1), "an empty list"));
            }
            Expr::In {
                value: scalar(0)?,
                list: list
                    .iter()
                    .enumerate()
                    .map(|(i, x)| json_scalar(x, &format!("{}/{i}", arg(1)), depth + 1))
                    .collect::<Result<_, _>>()?,
                negated: false,
            }
        }
        "isnull" => {
            n(1)?;
            Expr::IsNull {
                value: scalar(0)?,
                negated: false,
            }
        }
        "s_intersects" => {
            n(2)?;
            let side = |i: usize| -> Result<GeomArg, CqlError> {
                let a = &args[i];
                if let Some(p) = a.get("property").and_then(Value::as_str) {
                    return Ok(GeomArg::Prop(p.to_string()));
                }
                json_geometry(a, &arg(i), crs).map(GeomArg::Geom)
            };
            match (side(0)?, side(1)?) {
                (GeomArg::Prop(p), GeomArg::Geom(g)) | (GeomArg::Geom(g), GeomArg::Prop(p)) => {
                    Expr::Intersects(p, g)
                }
                _ => {
                    return Err(jerr(
                        &format!("{path}/args"),
                        "s_intersects takes the geometry property and a literal geometry",
                    ));
                }
            }
        }
        o => {
            return Err(jerr(
                &format!("{path}/op"),
                format!(
                    "\"{o}\" is not supported; supported: and, or, not, =, <>, <, >, <=, >=, like, between, in, isNull, s_intersects, casei"
                ),
            ));
        }
    })
}

fn json_scalar(v: &Value, path: &str, depth: usize) -> Result<Scalar, CqlError> {
    if depth > MAX_DEPTH {
        return Err(jerr(
            path,
            format!("the expression nests deeper than {MAX_DEPTH} levels"),
        ));
    }
    match v {
        Value::String(s) => Ok(Scalar::Str(s.clone())),
        Value::Bool(b) => Ok(Scalar::Bool(*b)),
        Value::Number(n) => n
            .as_f64()
            .filter(|x| x.is_finite())
            .map(Scalar::Num)
            .ok_or_else(|| jerr(path, "not a finite number")),
        Value::Object(o) => {
            if let Some(p) = o.get("property") {
                return p
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(|s| Scalar::Property(s.to_string()))
                    .ok_or_else(|| jerr(path, "\"property\" is a property name"));
            }
            if let Some(d) = o.get("date") {
                let s = d
                    .as_str()
                    .ok_or_else(|| jerr(path, "\"date\" is a string"))?;
                date_literal(s).map_err(|m| jerr(path, m))?;
                return Ok(Scalar::Date(s.to_string()));
            }
            if let Some(d) = o.get("timestamp") {
                let s = d
                    .as_str()
                    .ok_or_else(|| jerr(path, "\"timestamp\" is a string"))?;
                timestamp_literal(s).map_err(|m| jerr(path, m))?;
                return Ok(Scalar::Timestamp(s.to_string()));
            }
            let (op, args) = op_args(v, path)?;
            if op == "casei" && args.len() == 1 {
                return Ok(Scalar::Casei(Box::new(json_scalar(
                    &args[0],
                    &format!("{path}/args/0"),
                    depth + 1,
                )?)));
            }
            Err(jerr(
                path,
                format!("\"{op}\" is not supported as a value (only casei, with one argument)"),
            ))
        }
        _ => Err(jerr(
            path,
            "expected a property, a string, a number, a boolean, a date or a timestamp",
        )),
    }
}

fn json_position(v: &Value, path: &str, crs: Crs) -> Result<Coord<f64>, CqlError> {
    let a = v
        .as_array()
        .filter(|a| a.len() == 2 || a.len() == 3)
        .ok_or_else(|| jerr(path, "a position is 2 or 3 numbers"))?;
    let x = a[0].as_f64().filter(|x| x.is_finite());
    let y = a[1].as_f64().filter(|x| x.is_finite());
    let (Some(x), Some(y)) = (x, y) else {
        return Err(jerr(path, "a position is 2 or 3 numbers"));
    };
    let p = crs
        .to_lonlat([x, y])
        .ok_or_else(|| jerr(path, "a position cannot be projected to lon/lat"))?;
    Ok(Coord { x: p[0], y: p[1] })
}

fn json_array<'a>(v: &'a Value, path: &str) -> Result<&'a [Value], CqlError> {
    v.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| jerr(path, "expected an array"))
}

fn json_line(v: &Value, path: &str, crs: Crs) -> Result<Vec<Coord<f64>>, CqlError> {
    let a = json_array(v, path)?;
    if a.len() < 2 {
        return Err(jerr(path, "a line string has at least 2 positions"));
    }
    a.iter()
        .enumerate()
        .map(|(i, p)| json_position(p, &format!("{path}/{i}"), crs))
        .collect()
}

fn json_polygon(v: &Value, path: &str, crs: Crs) -> Result<Polygon<f64>, CqlError> {
    let rings = json_array(v, path)?;
    let mut out = Vec::new();
    for (i, r) in rings.iter().enumerate() {
        let p = format!("{path}/{i}");
        let r = json_line(r, &p, crs)?;
        if r.len() < 4 || r.first() != r.last() {
            return Err(jerr(
                &p,
                "a polygon ring is closed and has at least 4 positions",
            ));
        }
        out.push(LineString(r));
    }
    if out.is_empty() {
        return Err(jerr(path, "a polygon has a ring"));
    }
    let outer = out.remove(0);
    Ok(Polygon::new(outer, out))
}

/// A GeoJSON geometry or `{"bbox": [...]}`, in `crs`.
fn json_geometry(v: &Value, path: &str, crs: Crs) -> Result<Geometry<f64>, CqlError> {
    if let Some(b) = v.get("bbox") {
        let n: Vec<f64> = json_array(b, &format!("{path}/bbox"))?
            .iter()
            .map(|x| x.as_f64().filter(|x| x.is_finite()))
            .collect::<Option<_>>()
            .ok_or_else(|| jerr(&format!("{path}/bbox"), "a bbox is 4 or 6 numbers"))?;
        let b = match n.len() {
            4 => [n[0], n[1], n[2], n[3]],
            6 => [n[0], n[1], n[3], n[4]],
            _ => return Err(jerr(&format!("{path}/bbox"), "a bbox is 4 or 6 numbers")),
        };
        if b[0] > b[2] || b[1] > b[3] {
            return Err(jerr(
                &format!("{path}/bbox"),
                "the lower corner comes first",
            ));
        }
        let b = crs
            .bbox_to_lonlat(b)
            .ok_or_else(|| jerr(path, "the bbox cannot be projected to lon/lat"))?;
        return Ok(Geometry::Rect(Rect::new(
            Coord { x: b[0], y: b[1] },
            Coord { x: b[2], y: b[3] },
        )));
    }
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| jerr(path, "expected a GeoJSON geometry or {\"bbox\": […]}"))?;
    let cp = format!("{path}/coordinates");
    let c = v
        .get("coordinates")
        .ok_or_else(|| jerr(&cp, "a geometry has coordinates"))?;
    Ok(match kind {
        "Point" => Geometry::Point(Point(json_position(c, &cp, crs)?)),
        "LineString" => Geometry::LineString(LineString(json_line(c, &cp, crs)?)),
        "Polygon" => Geometry::Polygon(json_polygon(c, &cp, crs)?),
        "MultiPoint" => Geometry::MultiPoint(MultiPoint(
            json_array(c, &cp)?
                .iter()
                .enumerate()
                .map(|(i, p)| json_position(p, &format!("{cp}/{i}"), crs).map(Point))
                .collect::<Result<_, _>>()?,
        )),
        "MultiLineString" => Geometry::MultiLineString(MultiLineString(
            json_array(c, &cp)?
                .iter()
                .enumerate()
                .map(|(i, l)| json_line(l, &format!("{cp}/{i}"), crs).map(LineString))
                .collect::<Result<_, _>>()?,
        )),
        "MultiPolygon" => Geometry::MultiPolygon(MultiPolygon(
            json_array(c, &cp)?
                .iter()
                .enumerate()
                .map(|(i, p)| json_polygon(p, &format!("{cp}/{i}"), crs))
                .collect::<Result<_, _>>()?,
        )),
        k => {
            return Err(jerr(
                &format!("{path}/type"),
                format!(
                    "\"{k}\" is not supported: Point, LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon or a bbox"
                ),
            ));
        }
    })
}

// ------------------------------------------------------------------------------ printer

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn property(s: &str) -> String {
    let plain = s
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b':')
        && !RESERVED.contains(&s.to_ascii_uppercase().as_str());
    if plain {
        s.to_string()
    } else {
        format!("\"{s}\"")
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Property(p) => write!(f, "{}", property(p)),
            Scalar::Str(s) => write!(f, "{}", quote(s)),
            Scalar::Num(n) => write!(f, "{n:?}"),
            Scalar::Bool(b) => write!(f, "{}", if *b { "TRUE" } else { "FALSE" }),
            Scalar::Date(d) => write!(f, "DATE({})", quote(d)),
            Scalar::Timestamp(t) => write!(f, "TIMESTAMP({})", quote(t)),
            Scalar::Casei(s) => write!(f, "CASEI({s})"),
        }
    }
}

fn wkt_coords(cs: &[Coord<f64>]) -> String {
    let v: Vec<String> = cs.iter().map(|c| format!("{:?} {:?}", c.x, c.y)).collect();
    format!("({})", v.join(", "))
}

fn wkt_polygon(p: &Polygon<f64>) -> String {
    let mut rings = vec![wkt_coords(&p.exterior().0)];
    rings.extend(p.interiors().iter().map(|r| wkt_coords(&r.0)));
    format!("({})", rings.join(", "))
}

/// A geometry as CQL2 text (CRS84).
pub fn wkt(g: &Geometry<f64>) -> String {
    let join = |v: Vec<String>| format!("({})", v.join(", "));
    match g {
        Geometry::Rect(r) => format!(
            "BBOX({:?}, {:?}, {:?}, {:?})",
            r.min().x,
            r.min().y,
            r.max().x,
            r.max().y
        ),
        Geometry::Point(p) => format!("POINT({:?} {:?})", p.x(), p.y()),
        Geometry::LineString(l) => format!("LINESTRING{}", wkt_coords(&l.0)),
        Geometry::Polygon(p) => format!("POLYGON{}", wkt_polygon(p)),
        Geometry::MultiPoint(m) => format!(
            "MULTIPOINT{}",
            join(
                m.0.iter()
                    .map(|p| format!("({:?} {:?})", p.x(), p.y()))
                    .collect()
            )
        ),
        Geometry::MultiLineString(m) => format!(
            "MULTILINESTRING{}",
            join(m.0.iter().map(|l| wkt_coords(&l.0)).collect())
        ),
        Geometry::MultiPolygon(m) => format!(
            "MULTIPOLYGON{}",
            join(m.0.iter().map(wkt_polygon).collect())
        ),
        other => format!("{other:?}"),
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = |n: bool| if n { "NOT " } else { "" };
        match self {
            Expr::And(v) | Expr::Or(v) => {
                let sep = if matches!(self, Expr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts: Vec<String> = v.iter().map(|e| format!("({e})")).collect();
                write!(f, "{}", parts.join(sep))
            }
            Expr::Not(e) => write!(f, "NOT ({e})"),
            Expr::Literal(b) => write!(f, "{}", if *b { "TRUE" } else { "FALSE" }),
            Expr::Compare(op, a, b) => write!(f, "{a} {} {b}", op.as_str()),
            Expr::Like {
                value,
                pattern,
                negated,
            } => write!(f, "{value} {}LIKE {pattern}", not(*negated)),
            Expr::Between {
                value,
                low,
                high,
                negated,
            } => write!(f, "{value} {}BETWEEN {low} AND {high}", not(*negated)),
            Expr::In {
                value,
                list,
                negated,
            } => {
                let v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
                write!(f, "{value} {}IN ({})", not(*negated), v.join(", "))
            }
            Expr::IsNull { value, negated } => write!(f, "{value} IS {}NULL", not(*negated)),
            Expr::Intersects(p, g) => write!(f, "S_INTERSECTS({}, {})", property(p), wkt(g)),
        }
    }
}

// ------------------------------------------------------------------------------ checking

/// The type of a queryable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QType {
    String,
    Integer,
    Number,
    Boolean,
    Date,
    DateTime,
    Geometry,
}

/// What a filter may name: a property, its type and, for a closed vocabulary, its values.
pub trait Queryables {
    fn get(&self, name: &str) -> Option<(QType, Option<&[String]>)>;
    fn names(&self) -> Vec<String>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Str,
    Num,
    Bool,
    Date,
    Time,
    Geom,
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Str => "a string",
        Kind::Num => "a number",
        Kind::Bool => "a boolean",
        Kind::Date => "a date",
        Kind::Time => "a timestamp",
        Kind::Geom => "a geometry",
    }
}

fn fail(message: String) -> CqlError {
    CqlError {
        at: "the filter".into(),
        message,
    }
}

fn scalar_kind(s: &Scalar, q: &dyn Queryables) -> Result<(Kind, Option<Vec<String>>), CqlError> {
    Ok(match s {
        Scalar::Property(p) => {
            let (t, values) = q.get(p).ok_or_else(|| {
                fail(format!(
                    "\"{p}\" is not a queryable of this collection; queryables: {}",
                    q.names().join(", ")
                ))
            })?;
            let k = match t {
                QType::String => Kind::Str,
                QType::Integer | QType::Number => Kind::Num,
                QType::Boolean => Kind::Bool,
                QType::Date => Kind::Date,
                QType::DateTime => Kind::Time,
                QType::Geometry => Kind::Geom,
            };
            (k, values.map(<[String]>::to_vec))
        }
        Scalar::Str(_) => (Kind::Str, None),
        Scalar::Num(_) => (Kind::Num, None),
        Scalar::Bool(_) => (Kind::Bool, None),
        Scalar::Date(_) => (Kind::Date, None),
        Scalar::Timestamp(_) => (Kind::Time, None),
        Scalar::Casei(inner) => {
            let (k, _) = scalar_kind(inner, q)?;
            if k != Kind::Str {
                return Err(fail(format!("CASEI({inner}) takes a string")));
            }
            (Kind::Str, None)
        }
    })
}

/// Whether two operands can be compared; a string literal compares with a date or timestamp
/// property when it is one (GDAL writes dates as strings).
fn compatible(a: (Kind, &Scalar), b: (Kind, &Scalar)) -> bool {
    let lit_as = |k: Kind, s: &Scalar| match (k, s) {
        (Kind::Date, Scalar::Str(v)) => date_literal(v).is_ok(),
        (Kind::Time, Scalar::Str(v)) => timestamp_literal(v).is_ok(),
        _ => false,
    };
    a.0 == b.0 || lit_as(a.0, b.1) || lit_as(b.0, a.1)
}

fn check_pair(a: &Scalar, b: &Scalar, q: &dyn Queryables, what: &str) -> Result<(), CqlError> {
    let (ka, va) = scalar_kind(a, q)?;
    let (kb, vb) = scalar_kind(b, q)?;
    if ka == Kind::Geom || kb == Kind::Geom {
        return Err(fail(format!(
            "{what}: a geometry is compared with S_INTERSECTS only"
        )));
    }
    if !compatible((ka, a), (kb, b)) {
        return Err(fail(format!(
            "{what}: {a} is {} and {b} is {}",
            kind_name(ka),
            kind_name(kb)
        )));
    }
    // a value outside a closed vocabulary can match nothing: say so
    for (vals, other) in [(va, b), (vb, a)] {
        if let (Some(vals), Scalar::Str(s)) = (vals, other)
            && !vals.contains(s)
        {
            return Err(fail(format!(
                "{what}: '{s}' is not one of {}",
                vals.join(", ")
            )));
        }
    }
    Ok(())
}

/// Checks every property against the queryables and every operand's type.
pub fn check(e: &Expr, q: &dyn Queryables) -> Result<(), CqlError> {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().try_for_each(|x| check(x, q)),
        Expr::Not(x) => check(x, q),
        Expr::Literal(_) => Ok(()),
        Expr::Compare(op, a, b) => {
            check_pair(a, b, q, &format!("{a} {} {b}", op.as_str()))?;
            let (k, _) = scalar_kind(a, q)?;
            if k == Kind::Bool && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(fail(format!("{e}: booleans compare with = and <> only")));
            }
            Ok(())
        }
        Expr::Like { value, pattern, .. } => {
            for s in [value, pattern] {
                if scalar_kind(s, q)?.0 != Kind::Str {
                    return Err(fail(format!(
                        "{e}: LIKE compares strings, and {s} is not one"
                    )));
                }
            }
            Ok(())
        }
        Expr::Between {
            value, low, high, ..
        } => {
            let (k, _) = scalar_kind(value, q)?;
            if !matches!(k, Kind::Num | Kind::Date | Kind::Time) {
                return Err(fail(format!(
                    "{e}: BETWEEN takes numbers or dates, and {value} is {}",
                    kind_name(k)
                )));
            }
            check_pair(value, low, q, &e.to_string())?;
            check_pair(value, high, q, &e.to_string())
        }
        Expr::In { value, list, .. } => list
            .iter()
            .try_for_each(|x| check_pair(value, x, q, &e.to_string())),
        Expr::IsNull { value, .. } => scalar_kind(value, q).map(|_| ()),
        Expr::Intersects(p, _) => match q.get(p) {
            Some((QType::Geometry, _)) => Ok(()),
            Some(_) => Err(fail(format!(
                "S_INTERSECTS: \"{p}\" is not a geometry; the geometry queryable is \"geometry\""
            ))),
            None => Err(fail(format!(
                "\"{p}\" is not a queryable of this collection; queryables: {}",
                q.names().join(", ")
            ))),
        },
    }
}

// ------------------------------------------------------------------------------ evaluation

/// A property value as a filter reads it, borrowed from the row where it can be.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Bool(bool),
    Null,
}

impl<'a> Val<'a> {
    pub fn str(s: &'a str) -> Val<'a> {
        Val::Str(Cow::Borrowed(s))
    }
    /// A string, or null.
    pub fn opt_str(s: Option<&'a str>) -> Val<'a> {
        s.map_or(Val::Null, Val::str)
    }
    /// A number, or null.
    pub fn opt_num(n: Option<f64>) -> Val<'a> {
        n.map_or(Val::Null, Val::Num)
    }
    /// A JSON value as a filter reads it: arrays and objects are null.
    pub fn of_json(v: &'a Value) -> Val<'a> {
        match v {
            Value::String(s) => Val::str(s),
            Value::Number(n) => n.as_f64().map_or(Val::Null, Val::Num),
            Value::Bool(b) => Val::Bool(*b),
            _ => Val::Null,
        }
    }
}

/// A feature as a filter sees it: a typed value per property, the property resolved once to a
/// `Prop` (an accessor of the collection's rows) when the filter is compiled, so that no name is
/// looked up and no properties map is built per row; and its geometry, tested against its
/// envelope first.
pub trait Row {
    type Prop: Copy;
    /// The property's value (`Null` when absent).
    fn get(&self, p: Self::Prop) -> Val<'_>;
    /// The lon/lat envelope of the geometry; None when the feature has none.
    fn envelope(&self) -> Option<Rect<f64>>;
    /// Whether the geometry intersects `g` (asked only when the envelopes meet).
    fn intersects(&self, g: &Geometry<f64>) -> bool;
}

/// An operand of a compiled filter.
#[derive(Clone, Debug)]
enum Operand<P> {
    /// a property; lower-cased when under CASEI
    Prop(P, bool),
    Str(String),
    Num(f64),
    Bool(bool),
}

/// A LIKE pattern, read once.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Pat {
    Any,
    One,
    Ch(char),
}

fn like_pattern(pattern: &str) -> Vec<Pat> {
    let mut pat = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        pat.push(match c {
            '%' => Pat::Any,
            '_' => Pat::One,
            '\\' => Pat::Ch(it.next().unwrap_or('\\')),
            c => Pat::Ch(c),
        });
    }
    pat
}

/// The classic two-pointer match with one backtrack point: linear in practice, never
/// exponential; the whole string must match.
fn like_match<T: Copy + PartialEq>(s: &[T], pat: &[Pat], ch: impl Fn(T) -> char) -> bool {
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if j < pat.len() && (pat[j] == Pat::One || pat[j] == Pat::Ch(ch(s[i]))) {
            i += 1;
            j += 1;
        } else if j < pat.len() && pat[j] == Pat::Any {
            star = Some((j, i));
            j += 1;
        } else if let Some((sj, si)) = star {
            j = sj + 1;
            i = si + 1;
            star = Some((sj, si + 1));
        } else {
            return false;
        }
    }
    while j < pat.len() && pat[j] == Pat::Any {
        j += 1;
    }
    j == pat.len()
}

fn like_compiled(s: &str, pat: &[Pat]) -> bool {
    if s.is_ascii() {
        // one byte per character: no copy of the string
        like_match(s.as_bytes(), pat, char::from)
    } else {
        let cs: Vec<char> = s.chars().collect();
        like_match(&cs, pat, |c| c)
    }
}

/// `%` any run, `_` one character, `\` escapes the next; the whole string must match.
pub fn like(s: &str, pattern: &str) -> bool {
    like_compiled(s, &like_pattern(pattern))
}

/// A node of a compiled filter. `instants` says a pair compares as timestamps (one side is a
/// `TIMESTAMP` literal).
#[derive(Clone, Debug)]
enum Node<P> {
    And(Vec<Node<P>>),
    Or(Vec<Node<P>>),
    Not(Box<Node<P>>),
    Lit(bool),
    Cmp(CmpOp, Operand<P>, Operand<P>, bool),
    /// LIKE with a literal pattern, read once
    LikeLit(Operand<P>, Vec<Pat>, bool),
    Like(Operand<P>, Operand<P>, bool),
    Between {
        value: Operand<P>,
        low: (Operand<P>, bool),
        high: (Operand<P>, bool),
        negated: bool,
    },
    In(Operand<P>, Vec<(Operand<P>, bool)>, bool),
    IsNull(Operand<P>, bool),
    /// S_INTERSECTS: the literal's envelope, tested first, and the literal
    Intersects(Rect<f64>, Box<Geometry<f64>>),
}

/// A filter compiled for one collection's rows: properties resolved to accessors, literal
/// patterns read, and every AND and OR ordered cheap tests first, spatial ones last (the
/// three-valued AND and OR do not depend on the order of their terms).
#[derive(Clone, Debug)]
pub struct Plan<P> {
    node: Node<P>,
}

fn is_timestamp(s: &Scalar) -> bool {
    match s {
        Scalar::Timestamp(_) => true,
        Scalar::Casei(i) => is_timestamp(i),
        _ => false,
    }
}

fn operand<P>(
    s: &Scalar,
    resolve: &impl Fn(&str) -> Option<P>,
    lower: bool,
) -> Result<Operand<P>, CqlError> {
    let lit = |v: &str| {
        if lower {
            v.to_lowercase()
        } else {
            v.to_string()
        }
    };
    Ok(match s {
        Scalar::Property(p) => Operand::Prop(
            resolve(p)
                .ok_or_else(|| fail(format!("\"{p}\" is not a queryable of this collection")))?,
            lower,
        ),
        Scalar::Str(v) | Scalar::Date(v) | Scalar::Timestamp(v) => Operand::Str(lit(v)),
        Scalar::Num(n) => Operand::Num(*n),
        Scalar::Bool(b) => Operand::Bool(*b),
        Scalar::Casei(inner) => operand(inner, resolve, true)?,
    })
}

/// The relative cost of evaluating a node on a row: spatial tests last.
fn cost<P>(n: &Node<P>) -> u32 {
    match n {
        Node::And(v) | Node::Or(v) => v.iter().map(cost).sum(),
        Node::Not(x) => cost(x),
        Node::Lit(_) => 0,
        Node::Like(..) | Node::LikeLit(..) => 3,
        Node::In(_, l, _) => 1 + l.len() as u32 / 4,
        Node::Intersects(..) => 1_000,
        _ => 1,
    }
}

fn compile_node<P>(e: &Expr, resolve: &impl Fn(&str) -> Option<P>) -> Result<Node<P>, CqlError> {
    let op = |s: &Scalar| operand(s, resolve, false);
    Ok(match e {
        Expr::And(v) | Expr::Or(v) => {
            let mut nodes = v
                .iter()
                .map(|x| compile_node(x, resolve))
                .collect::<Result<Vec<_>, _>>()?;
            nodes.sort_by_key(cost);
            if matches!(e, Expr::And(_)) {
                Node::And(nodes)
            } else {
                Node::Or(nodes)
            }
        }
        Expr::Not(x) => Node::Not(Box::new(compile_node(x, resolve)?)),
        Expr::Literal(b) => Node::Lit(*b),
        Expr::Compare(o, a, b) => Node::Cmp(*o, op(a)?, op(b)?, is_timestamp(a) || is_timestamp(b)),
        Expr::Like {
            value,
            pattern,
            negated,
        } => match operand(pattern, resolve, false)? {
            Operand::Str(p) => Node::LikeLit(op(value)?, like_pattern(&p), *negated),
            p => Node::Like(op(value)?, p, *negated),
        },
        Expr::Between {
            value,
            low,
            high,
            negated,
        } => Node::Between {
            value: op(value)?,
            low: (op(low)?, is_timestamp(value) || is_timestamp(low)),
            high: (op(high)?, is_timestamp(value) || is_timestamp(high)),
            negated: *negated,
        },
        Expr::In {
            value,
            list,
            negated,
        } => Node::In(
            op(value)?,
            list.iter()
                .map(|x| Ok((op(x)?, is_timestamp(value) || is_timestamp(x))))
                .collect::<Result<_, CqlError>>()?,
            *negated,
        ),
        Expr::IsNull { value, negated } => Node::IsNull(op(value)?, *negated),
        Expr::Intersects(_, g) => {
            use geo::BoundingRect;
            let env = g
                .bounding_rect()
                .ok_or_else(|| fail("an empty geometry".into()))?;
            Node::Intersects(env, Box::new(g.clone()))
        }
    })
}

/// Compiles a checked expression for rows whose properties `resolve` names.
pub fn compile<P>(e: &Expr, resolve: impl Fn(&str) -> Option<P>) -> Result<Plan<P>, CqlError> {
    Ok(Plan {
        node: compile_node(e, &resolve)?,
    })
}

fn value<'a, R: Row>(o: &'a Operand<R::Prop>, row: &'a R) -> Val<'a> {
    match o {
        Operand::Prop(p, false) => row.get(*p),
        Operand::Prop(p, true) => match row.get(*p) {
            Val::Str(s) => Val::Str(Cow::Owned(s.to_lowercase())),
            v => v,
        },
        Operand::Str(s) => Val::str(s),
        Operand::Num(n) => Val::Num(*n),
        Operand::Bool(b) => Val::Bool(*b),
    }
}

/// Orders two values; timestamps by instant (whatever their offsets), dates and strings by
/// text (ISO dates order as text); None when either is null or they do not compare.
fn order(a: &Val, b: &Val, instants: bool) -> Option<Ordering> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) if instants => {
            let (x, y) = (timestamp_literal(x).ok()?, timestamp_literal(y).ok()?);
            Some(x.cmp(&y))
        }
        (Val::Str(x), Val::Str(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn compare<R: Row>(
    a: &Operand<R::Prop>,
    b: &Operand<R::Prop>,
    instants: bool,
    row: &R,
) -> Option<Ordering> {
    order(&value(a, row), &value(b, row), instants)
}

fn and(v: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut unknown = false;
    for x in v {
        match x {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    if unknown { None } else { Some(true) }
}

fn or(v: impl Iterator<Item = Option<bool>>) -> Option<bool> {
    let mut unknown = false;
    for x in v {
        match x {
            Some(true) => return Some(true),
            None => unknown = true,
            Some(false) => {}
        }
    }
    if unknown { None } else { Some(false) }
}

fn flip(negated: bool, v: Option<bool>) -> Option<bool> {
    v.map(|b| b != negated)
}

fn rects_meet(a: &Rect<f64>, b: &Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

/// A node on a row: Some(true), Some(false), or None (unknown: a null was compared).
fn eval<R: Row>(n: &Node<R::Prop>, row: &R) -> Option<bool> {
    match n {
        Node::And(v) => and(v.iter().map(|x| eval(x, row))),
        Node::Or(v) => or(v.iter().map(|x| eval(x, row))),
        Node::Not(x) => eval(x, row).map(|b| !b),
        Node::Lit(b) => Some(*b),
        Node::Cmp(op, a, b, instants) => compare(a, b, *instants, row).map(|o| op.holds(o)),
        Node::LikeLit(v, pat, negated) => {
            let r = match value(v, row) {
                Val::Str(s) => Some(like_compiled(&s, pat)),
                _ => None,
            };
            flip(*negated, r)
        }
        Node::Like(v, p, negated) => {
            let r = match (value(v, row), value(p, row)) {
                (Val::Str(s), Val::Str(p)) => Some(like(&s, &p)),
                _ => None,
            };
            flip(*negated, r)
        }
        Node::Between {
            value: v,
            low,
            high,
            negated,
        } => {
            let lo = compare(v, &low.0, low.1, row).map(|o| o != Ordering::Less);
            let hi = compare(v, &high.0, high.1, row).map(|o| o != Ordering::Greater);
            flip(*negated, and([lo, hi].into_iter()))
        }
        Node::In(v, list, negated) => flip(
            *negated,
            or(list
                .iter()
                .map(|(x, instants)| compare(v, x, *instants, row).map(|o| o == Ordering::Equal))),
        ),
        Node::IsNull(v, negated) => Some((value(v, row) == Val::Null) != *negated),
        Node::Intersects(env, g) => {
            let e = row.envelope()?;
            Some(rects_meet(&e, env) && row.intersects(g))
        }
    }
}

impl<P: Copy> Plan<P> {
    /// The filter on a row: Some(true), Some(false), or None (unknown: a null was compared).
    pub fn eval<R: Row<Prop = P>>(&self, row: &R) -> Option<bool> {
        eval(&self.node, row)
    }

    /// Whether a row passes: only true selects.
    pub fn selects<R: Row<Prop = P>>(&self, row: &R) -> bool {
        self.eval(row) == Some(true)
    }
}

/// The lon/lat envelope of a geometry every selected row must intersect (an `S_INTERSECTS` at
/// the top of the filter or in a top-level AND), so that an index can narrow the candidates.
pub fn required_envelope(e: &Expr) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    match e {
        Expr::Intersects(_, g) => g
            .bounding_rect()
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]),
        Expr::And(v) => v.iter().find_map(required_envelope),
        _ => None,
    }
}

/// The string every selected row's `name` equals (a `name = 'literal'` at the top of the filter
/// or in a top-level AND), so that an index can narrow the candidates.
pub fn required_equal<'a>(e: &'a Expr, name: &str) -> Option<&'a str> {
    match e {
        Expr::Compare(CmpOp::Eq, Scalar::Property(p), Scalar::Str(v))
        | Expr::Compare(CmpOp::Eq, Scalar::Str(v), Scalar::Property(p))
            if p == name =>
        {
            Some(v)
        }
        Expr::And(v) => v.iter().find_map(|x| required_equal(x, name)),
        _ => None,
    }
}

/// A GeoJSON geometry (CRS84) as a geo geometry; None for null or an unknown type.
pub fn geojson_geometry(v: &Value) -> Option<Geometry<f64>> {
    if v.is_null() {
        return None;
    }
    json_geometry(v, "", Crs::Crs84).ok()
}

/// The lon/lat envelope of a GeoJSON geometry's coordinates, read without building it; None
/// for null or no coordinates.
pub fn geojson_envelope(v: &Value) -> Option<Rect<f64>> {
    fn walk(v: &Value, b: &mut Option<[f64; 4]>) {
        let Some(a) = v.as_array() else { return };
        if let (Some(x), Some(y)) = (
            a.first().and_then(Value::as_f64),
            a.get(1).and_then(Value::as_f64),
        ) {
            let e = b.get_or_insert([x, y, x, y]);
            *e = [e[0].min(x), e[1].min(y), e[2].max(x), e[3].max(y)];
            return;
        }
        a.iter().for_each(|x| walk(x, b));
    }
    let mut b = None;
    walk(v.get("coordinates")?, &mut b);
    b.map(|b| Rect::new(Coord { x: b[0], y: b[1] }, Coord { x: b[2], y: b[3] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse_text(s, Crs::Crs84).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let prop = |s: &str| Scalar::Property(s.into());
        let eq = |a: &str, n: f64| Expr::Compare(CmpOp::Eq, prop(a), Scalar::Num(n));
        assert_eq!(
            p("a = 1 OR b = 2 AND NOT c = 3"),
            Expr::Or(vec![
                eq("a", 1.0),
                Expr::And(vec![eq("b", 2.0), Expr::Not(Box::new(eq("c", 3.0)))])
            ])
        );
        assert_eq!(
            p("(a = 1 or b = 2) and c = 3"),
            Expr::And(vec![
                Expr::Or(vec![eq("a", 1.0), eq("b", 2.0)]),
                eq("c", 3.0)
            ])
        );
    }

    #[test]
    fn errors_name_the_character_where_the_text_goes_wrong() {
        let e = parse_text("mode = 'rail' AND", Crs::Crs84).unwrap_err();
        assert_eq!(e.at, "character 18");
        let e = parse_text("mode == 'rail'", Crs::Crs84).unwrap_err();
        assert_eq!(e.at, "character 7", "{e}");
        let e = parse_text("name = 'open", Crs::Crs84).unwrap_err();
        assert_eq!(e.at, "character 8");
        let deep = format!("{}a = 1{}", "(".repeat(200), ")".repeat(200));
        assert!(
            parse_text(&deep, Crs::Crs84)
                .unwrap_err()
                .message
                .contains("deeper")
        );
        let nots = format!("{}a = 1", "NOT ".repeat(5000));
        assert!(parse_text(&nots, Crs::Crs84).is_err());
    }

    #[test]
    fn like_matches_wildcards_and_escapes() {
        assert!(like("Liverpool Lime Street", "Liverpool%"));
        assert!(like("Liverpool Lime Street", "%Lime%"));
        assert!(like("BNG", "B_G"));
        assert!(!like("BNG", "B_"));
        assert!(like("50%", "50\\%"));
        assert!(!like("500", "50\\%"));
        assert!(like("a_b", "a\\_b"));
        assert!(!like("axb", "a\\_b"));
        assert!(like("", "%"));
        assert!(!like(
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
            "%a%a%a%a%a%a%a%a%a%c"
        ));
    }

    #[test]
    fn text_and_json_read_the_same_expression_and_text_prints_back() {
        let t = "mode IN ('rail', 'coach') AND NOT persons BETWEEN 2 AND 4 AND CASEI(name) LIKE 'l%' \
                 AND date >= DATE('2024-01-01') AND line_id IS NULL \
                 AND S_INTERSECTS(geometry, BBOX(-3.1, 53.3, -2.8, 53.5))";
        let j = r#"{"op": "and", "args": [
            {"op": "in", "args": [{"property": "mode"}, ["rail", "coach"]]},
            {"op": "not", "args": [{"op": "between", "args": [{"property": "persons"}, 2, 4]}]},
            {"op": "like", "args": [{"op": "casei", "args": [{"property": "name"}]}, "l%"]},
            {"op": ">=", "args": [{"property": "date"}, {"date": "2024-01-01"}]},
            {"op": "isNull", "args": [{"property": "line_id"}]},
            {"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [-3.1, 53.3, -2.8, 53.5]}]}
        ]}"#;
        let a = p(t);
        assert_eq!(a, parse_json(j, Crs::Crs84).unwrap());
        assert_eq!(p(&a.to_string()), a, "{a}");
    }
}
