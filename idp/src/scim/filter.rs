//! The SCIM filter language (RFC 7644 §3.4.2.2): a parser with an input cap, and evaluation
//! against a rendered resource.
//!
//! Supported: the comparison operators `eq`, `ne`, `co`, `sw`, `ew`, `gt`, `ge`, `lt`, `le`,
//! the presence test `pr`, `and` (binding tighter than `or`, as §3.4.2.2 Table 4 orders
//! them), `or`, `not (…)`, parentheses, and value paths such as `emails[value co "@x.dk"]`.
//! Attribute paths may carry a schema URN (`urn:…:User:userName`) and one sub-attribute
//! (`emails.value`, `meta.lastModified`). Attribute names match case-insensitively (RFC 7643
//! §2.1). String comparison is case-insensitive except for `id` and `externalId`, the two
//! attributes RFC 7643 §3.1 marks `caseExact`; strings that are both RFC 3339 date-times (such
//! as `meta.lastModified`) order chronologically. An attribute the resource does not have
//! matches nothing rather than failing, so a client may filter on attributes Portner does not
//! keep and simply find no users.
//!
//! Filters are evaluated in memory over the rendered resources of one organisation; the
//! evaluator never fails, because the parser has already refused every operator and value
//! combination it cannot evaluate.

use serde_json::Value;

use super::error::{ScimError, ScimType};

/// The longest filter accepted, in bytes. Real provisioning filters are one or two
/// comparisons; 2 KiB leaves room for long e-mail lists joined with `or`.
pub const MAX_FILTER_BYTES: usize = 2048;

/// How deeply parentheses, `not` and value paths may nest, so that a hostile filter cannot
/// exhaust the stack of the recursive parser.
const MAX_DEPTH: usize = 16;

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// A comparison of an attribute with a literal.
    Compare(AttrPath, CompareOp, Literal),
    /// The inner filter does not hold.
    Not(Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// The attribute has a non-empty value.
    Present(AttrPath),
    /// Some element of a multi-valued attribute satisfies the inner filter, e.g.
    /// `emails[value sw "a"]`.
    ValuePath(AttrPath, Box<Filter>),
}

/// An attribute path: an optional schema URN, an attribute and an optional sub-attribute.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct AttrPath {
    /// The schema URN, when the path names one (`urn:…:enterprise:2.0:User`).
    pub urn: Option<String>,
    /// The attribute.
    pub name: String,
    /// The sub-attribute of a complex attribute.
    pub sub: Option<String>,
}

/// The comparison operators of RFC 7644 §3.4.2.2, Table 3, in its order.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains.
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

/// A comparison value (`compValue` in RFC 7644 §3.4.2.2's grammar).
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A JSON number.
    Number(f64),
    /// A JSON string.
    String(String),
}

impl Filter {
    /// Parses `text`.
    ///
    /// # Errors
    ///
    /// 400 `invalidFilter` for text longer than [`MAX_FILTER_BYTES`], nested deeper than 16
    /// levels, or not in the grammar, and for operators applied to literals they cannot
    /// compare (`co 1`, `gt true`).
    pub fn parse(text: &str) -> Result<Self, ScimError> {
        if text.len() > MAX_FILTER_BYTES {
            return Err(invalid("The filter is too long."));
        }
        let tokens = tokenize(text)?;
        let mut parser = Parser {
            tokens,
            position: 0,
            depth: 0,
        };
        let filter = parser.or_expression()?;
        if parser.peek().is_some() {
            return Err(invalid("The filter has text after its end."));
        }
        Ok(filter)
    }

    /// Whether `resource` (a rendered SCIM resource, or one element of a multi-valued
    /// attribute inside a value path) satisfies the filter.
    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Self::And(left, right) => left.matches(resource) && right.matches(resource),
            Self::Or(left, right) => left.matches(resource) || right.matches(resource),
            Self::Not(inner) => !inner.matches(resource),
            Self::Present(path) => path.values(resource).iter().any(|value| is_present(value)),
            Self::Compare(path, op, literal) => compare(path, *op, literal, resource),
            Self::ValuePath(path, inner) => path
                .values_raw(resource)
                .iter()
                .any(|element| inner.matches(element)),
        }
    }
}

impl AttrPath {
    /// Parses `urn:…:attr.sub`, `attr.sub` or `attr`; `None` if the text is not an attribute
    /// path (names start with a letter and hold letters, digits, `_` and `-`).
    pub fn parse(text: &str) -> Option<Self> {
        let (urn, rest) = split_urn(text);
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        let valid = |part: &str| {
            part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !valid(name) || !sub.is_none_or(valid) {
            return None;
        }
        Some(Self {
            urn: urn.map(str::to_owned),
            name: name.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// Whether comparisons on this attribute are case-sensitive (RFC 7643 §3.1: `id` and
    /// `externalId` are `caseExact`; Portner's other string attributes are not).
    pub fn case_exact(&self) -> bool {
        let last = self.sub.as_deref().unwrap_or(&self.name);
        last.eq_ignore_ascii_case("id") || last.eq_ignore_ascii_case("externalId")
    }

    /// The leaf values at the path: multi-valued attributes are flattened, and a complex
    /// value without a named sub-attribute stands for its `value` (RFC 7644 §3.4.2.2).
    pub fn values<'a>(&self, resource: &'a Value) -> Vec<&'a Value> {
        let mut leaves = Vec::new();
        for value in self.values_raw(resource) {
            match (value, &self.sub) {
                (Value::Object(_), None) => leaves.extend(member(value, "value")),
                _ => leaves.push(value),
            }
        }
        leaves
    }

    /// The values at the path without taking `value` out of complex ones.
    fn values_raw<'a>(&self, resource: &'a Value) -> Vec<&'a Value> {
        let base = match &self.urn {
            Some(urn) if !super::schema::is_core(urn) => member(resource, urn),
            _ => Some(resource),
        };
        let Some(attribute) = base.and_then(|base| member(base, &self.name)) else {
            return Vec::new();
        };
        let elements: Vec<&Value> = match attribute {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        match &self.sub {
            None => elements,
            Some(sub) => elements
                .into_iter()
                .filter_map(|element| member(element, sub))
                .flat_map(|value| match value {
                    Value::Array(items) => items.iter().collect(),
                    other => vec![other],
                })
                .collect(),
        }
    }
}

/// The member of a JSON object whose name equals `name` ignoring ASCII case (RFC 7643 §2.1).
pub fn member<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// Splits a leading schema URN off an attribute path: the URN ends at the last colon.
pub fn split_urn(text: &str) -> (Option<&str>, &str) {
    let is_urn = text
        .get(..4)
        .is_some_and(|head| head.eq_ignore_ascii_case("urn:"));
    match text.rsplit_once(':') {
        Some((urn, rest)) if is_urn => (Some(urn), rest),
        _ => (None, text),
    }
}

fn invalid(detail: &'static str) -> ScimError {
    ScimError::bad_request(ScimType::InvalidFilter, detail)
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(members) => !members.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare(path: &AttrPath, op: CompareOp, literal: &Literal, resource: &Value) -> bool {
    let values = path.values(resource);
    match op {
        // `ne` holds when no value equals the literal, including when there is no value.
        CompareOp::Ne => !values
            .iter()
            .any(|value| compare_one(path, CompareOp::Eq, literal, value)),
        CompareOp::Eq if *literal == Literal::Null => values.iter().all(|value| value.is_null()),
        _ => values
            .iter()
            .any(|value| compare_one(path, op, literal, value)),
    }
}

fn compare_one(path: &AttrPath, op: CompareOp, literal: &Literal, value: &Value) -> bool {
    match (literal, value) {
        (Literal::Bool(expected), Value::Bool(actual)) => op == CompareOp::Eq && expected == actual,
        (Literal::Number(expected), Value::Number(actual)) => actual
            .as_f64()
            .is_some_and(|actual| ordering_holds(op, actual.partial_cmp(expected))),
        (Literal::String(expected), Value::String(actual)) => {
            compare_strings(op, actual, expected, path.case_exact())
        }
        _ => false,
    }
}

fn compare_strings(op: CompareOp, actual: &str, expected: &str, case_exact: bool) -> bool {
    let (actual, expected) = if case_exact {
        (actual.to_owned(), expected.to_owned())
    } else {
        (actual.to_lowercase(), expected.to_lowercase())
    };
    match op {
        CompareOp::Eq | CompareOp::Ne => actual == expected,
        CompareOp::Co => actual.contains(&expected),
        CompareOp::Sw => actual.starts_with(&expected),
        CompareOp::Ew => actual.ends_with(&expected),
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            let times = (
                chrono::DateTime::parse_from_rfc3339(&actual),
                chrono::DateTime::parse_from_rfc3339(&expected),
            );
            let ordering = match times {
                (Ok(actual), Ok(expected)) => actual.partial_cmp(&expected),
                _ => actual.partial_cmp(&expected),
            };
            ordering_holds(op, ordering)
        }
    }
}

fn ordering_holds(op: CompareOp, ordering: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    matches!(
        (op, ordering),
        (CompareOp::Eq, Some(Equal))
            | (CompareOp::Gt, Some(Greater))
            | (CompareOp::Ge, Some(Greater | Equal))
            | (CompareOp::Lt, Some(Less))
            | (CompareOp::Le, Some(Less | Equal))
    )
}

/// A lexical token of the filter language.
#[derive(Clone, Debug, PartialEq)]
enum Token {
    CloseBracket,
    CloseParen,
    /// A JSON string literal, unescaped.
    Literal(String),
    OpenBracket,
    OpenParen,
    /// An attribute path, operator, keyword or number.
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::OpenParen,
                    ')' => Token::CloseParen,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                let end = string_end(text, start)?;
                let literal = text
                    .get(start..end)
                    .and_then(|quoted| serde_json::from_str::<String>(quoted).ok())
                    .ok_or_else(|| invalid("A string in the filter is not valid JSON."))?;
                tokens.push(Token::Literal(literal));
                while chars.peek().is_some_and(|&(index, _)| index < end) {
                    chars.next();
                }
            }
            _ => {
                let mut end = start;
                while let Some(&(index, next)) = chars.peek() {
                    if " \t()[]\"".contains(next) {
                        break;
                    }
                    end = index + next.len_utf8();
                    chars.next();
                }
                tokens.push(Token::Word(
                    text.get(start..end).unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    Ok(tokens)
}

/// The byte index just past the closing quote of the string starting at `start`.
fn string_end(text: &str, start: usize) -> Result<usize, ScimError> {
    let mut escaped = false;
    for (index, c) in text.get(start + 1..).unwrap_or_default().char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return Ok(start + 1 + index + 1),
            _ => {}
        }
    }
    Err(invalid("A string in the filter is not closed."))
}

/// A recursive-descent parser over the tokens; `depth` counts open groups.
struct Parser {
    tokens: Vec<Token>,
    position: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.position)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.position).cloned();
        self.position += 1;
        token
    }

    fn next_is_word(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(found)) if found.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, expected: &Token) -> Result<(), ScimError> {
        match self.next() {
            Some(token) if token == *expected => Ok(()),
            _ => Err(invalid(
                "The filter has unbalanced parentheses or brackets.",
            )),
        }
    }

    fn enter(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(invalid("The filter is nested too deeply."));
        }
        Ok(())
    }

    /// `or` has the lowest precedence (RFC 7644 §3.4.2.2, Table 4).
    fn or_expression(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and_expression()?;
        while self.next_is_word("or") {
            self.next();
            let right = self.and_expression()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expression(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.unary()?;
        while self.next_is_word("and") {
            self.next();
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, ScimError> {
        if self.next_is_word("not") {
            self.next();
            return Ok(Filter::Not(Box::new(self.group()?)));
        }
        if self.peek() == Some(&Token::OpenParen) {
            return self.group();
        }
        self.attribute_expression()
    }

    fn group(&mut self) -> Result<Filter, ScimError> {
        self.enter()?;
        self.expect(&Token::OpenParen)?;
        let inner = self.or_expression()?;
        self.expect(&Token::CloseParen)?;
        self.depth -= 1;
        Ok(inner)
    }

    fn attribute_expression(&mut self) -> Result<Filter, ScimError> {
        let Some(Token::Word(word)) = self.next() else {
            return Err(invalid("The filter expects an attribute name."));
        };
        let path = AttrPath::parse(&word).ok_or_else(|| invalid("Not an attribute path."))?;
        if self.peek() == Some(&Token::OpenBracket) {
            return self.value_path(path);
        }
        let Some(Token::Word(operator)) = self.next() else {
            return Err(invalid("The filter expects an operator."));
        };
        if operator.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(path));
        }
        let op = compare_op(&operator).ok_or_else(|| invalid("Unknown filter operator."))?;
        let literal = self.literal()?;
        check_operands(op, &literal)?;
        Ok(Filter::Compare(path, op, literal))
    }

    fn value_path(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        if path.sub.is_some() {
            return Err(invalid("A value path filters a multi-valued attribute."));
        }
        self.enter()?;
        self.expect(&Token::OpenBracket)?;
        let inner = self.or_expression()?;
        self.expect(&Token::CloseBracket)?;
        self.depth -= 1;
        Ok(Filter::ValuePath(path, Box::new(inner)))
    }

    fn literal(&mut self) -> Result<Literal, ScimError> {
        match self.next() {
            Some(Token::Literal(text)) => Ok(Literal::String(text)),
            Some(Token::Word(word)) => match word.as_str() {
                "true" => Ok(Literal::Bool(true)),
                "false" => Ok(Literal::Bool(false)),
                "null" => Ok(Literal::Null),
                number => number
                    .parse::<f64>()
                    .ok()
                    .filter(|number| number.is_finite())
                    .map(Literal::Number)
                    .ok_or_else(|| invalid("The filter expects a value.")),
            },
            _ => Err(invalid("The filter expects a value.")),
        }
    }
}

fn compare_op(word: &str) -> Option<CompareOp> {
    let op = match word.to_ascii_lowercase().as_str() {
        "eq" => CompareOp::Eq,
        "ne" => CompareOp::Ne,
        "co" => CompareOp::Co,
        "sw" => CompareOp::Sw,
        "ew" => CompareOp::Ew,
        "gt" => CompareOp::Gt,
        "ge" => CompareOp::Ge,
        "lt" => CompareOp::Lt,
        "le" => CompareOp::Le,
        _ => return None,
    };
    Some(op)
}

/// RFC 7644 §3.4.2.2: `co`, `sw` and `ew` compare strings; ordering needs a string or
/// number; booleans and null only compare for (in)equality.
fn check_operands(op: CompareOp, literal: &Literal) -> Result<(), ScimError> {
    let allowed = match op {
        CompareOp::Eq | CompareOp::Ne => true,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => matches!(literal, Literal::String(_)),
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le => {
            matches!(literal, Literal::String(_) | Literal::Number(_))
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(invalid("The operator cannot compare that kind of value."))
    }
}

#[cfg(test)]
mod tests;
