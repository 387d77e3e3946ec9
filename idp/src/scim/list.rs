//! Listing (RFC 7644 §3.4.2): the query parameters `filter`, `sortBy`, `sortOrder`,
//! `startIndex` and `count`, their `.search` body form (§3.4.3), the `attributes` and
//! `excludedAttributes` projection (§3.4.2.5), and the ListResponse page.
//!
//! Pages hold at most [`MAX_PAGE_SIZE`] resources, whatever `count` asks for (§3.4.2.4 lets
//! the provider cap it). A `startIndex` below 1 counts as 1 and a negative `count` as 0, as
//! §3.4.2.4 says.

use std::cmp::Ordering;

use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimType};
use super::filter::{AttrPath, Filter, member};
use super::schema::{LIST_RESPONSE, MAX_PAGE_SIZE, is_core};

/// Longest query string read, in bytes: a capped filter plus the other parameters.
const MAX_QUERY_BYTES: usize = 4096;

/// Most attribute names in `attributes` or `excludedAttributes`.
const MAX_PROJECTED: usize = 32;

/// A parsed list or search request.
#[derive(Debug)]
pub struct ListRequest {
    /// The filter, if any.
    pub filter: Option<Filter>,
    sort_by: Option<AttrPath>,
    descending: bool,
    /// 1-based.
    start_index: usize,
    count: usize,
    projection: Projection,
}

/// Which attributes to return (§3.4.2.5).
#[derive(Debug, Default)]
pub struct Projection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

impl ListRequest {
    /// Reads the query string of `GET /Users`.
    ///
    /// # Errors
    ///
    /// 400 `invalidFilter` for a bad filter; 400 `invalidValue` for a bad number, sort order
    /// or attribute name, or a query string over 4 KiB.
    pub fn from_query(query: Option<&str>) -> Result<Self, ScimError> {
        let pairs = query_pairs(query)?;
        let text = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        Ok(Self {
            filter: text("filter").map(Filter::parse).transpose()?,
            sort_by: text("sortBy").map(attribute_path).transpose()?,
            descending: descending(text("sortOrder"))?,
            start_index: start_index(text("startIndex").map(number).transpose()?),
            count: count(text("count").map(number).transpose()?),
            projection: Projection::from_texts(text("attributes"), text("excludedAttributes"))?,
        })
    }

    /// Reads a SearchRequest body (§3.4.3).
    ///
    /// # Errors
    ///
    /// As [`Self::from_query`], and 400 `invalidSyntax` if a member has the wrong JSON type.
    pub fn from_search_body(body: &Value) -> Result<Self, ScimError> {
        let text = |name: &str| -> Result<Option<&str>, ScimError> {
            match member(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.as_str())),
                Some(_) => Err(syntax()),
            }
        };
        let integer = |name: &str| -> Result<Option<i64>, ScimError> {
            match member(body, name) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => value.as_i64().map(Some).ok_or_else(syntax),
            }
        };
        let attributes = |name: &str| -> Result<Vec<AttrPath>, ScimError> {
            match member(body, name) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(names)) => attribute_list(names.iter().map(Value::as_str)),
                Some(_) => Err(syntax()),
            }
        };
        Ok(Self {
            filter: text("filter")?.map(Filter::parse).transpose()?,
            sort_by: text("sortBy")?.map(attribute_path).transpose()?,
            descending: descending(text("sortOrder")?)?,
            start_index: start_index(integer("startIndex")?),
            count: count(integer("count")?),
            projection: Projection {
                attributes: attributes("attributes")?,
                excluded: attributes("excludedAttributes")?,
            },
        })
    }

    /// Filters, sorts and pages `resources` into a ListResponse.
    pub fn page(&self, resources: Vec<Value>) -> Value {
        let mut selected: Vec<Value> = match &self.filter {
            Some(filter) => resources
                .into_iter()
                .filter(|resource| filter.matches(resource))
                .collect(),
            None => resources,
        };
        if let Some(path) = &self.sort_by {
            selected.sort_by(|left, right| compare(path, left, right));
            if self.descending {
                selected.reverse();
            }
        }
        let total = selected.len();
        let page: Vec<Value> = selected
            .into_iter()
            .skip(self.start_index - 1)
            .take(self.count)
            .map(|resource| self.projection.apply(resource))
            .collect();
        json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": total,
            "startIndex": self.start_index,
            "itemsPerPage": page.len(),
            "Resources": page,
        })
    }
}

impl Projection {
    /// Reads `attributes` and `excludedAttributes` from a query string.
    ///
    /// # Errors
    ///
    /// 400 `invalidValue` for a malformed attribute name or more than 32 of them.
    pub fn from_query(query: Option<&str>) -> Result<Self, ScimError> {
        let pairs = query_pairs(query)?;
        let text = |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        Self::from_texts(text("attributes"), text("excludedAttributes"))
    }

    fn from_texts(attributes: Option<&str>, excluded: Option<&str>) -> Result<Self, ScimError> {
        let split = |text: Option<&str>| {
            attribute_list(
                text.unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(Some),
            )
        };
        Ok(Self {
            attributes: split(attributes)?,
            excluded: split(excluded)?,
        })
    }

    /// Keeps only the named attributes, or drops the excluded ones. `schemas`, `id` and
    /// `meta` always stay (RFC 7643 §3.1, `returned: always` for `id`).
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(mut object) = resource else {
            return resource;
        };
        if !self.attributes.is_empty() {
            object.retain(|key, _| {
                ["schemas", "id", "meta"].contains(&key.as_str())
                    || self.attributes.iter().any(|path| selects(path, key))
            });
        }
        for path in &self.excluded {
            exclude(&mut object, path);
        }
        Value::Object(object)
    }
}

/// Whether `path` asks for the top-level member `key`: an attribute of the core schema by its
/// name, or an extension by its URN.
fn selects(path: &AttrPath, key: &str) -> bool {
    match &path.urn {
        Some(urn) if !is_core(urn) => urn.eq_ignore_ascii_case(key),
        _ => path.name.eq_ignore_ascii_case(key),
    }
}

fn exclude(object: &mut Map<String, Value>, path: &AttrPath) {
    let never_excluded = ["schemas", "id"];
    let target = match &path.urn {
        Some(urn) if !is_core(urn) => {
            let Some(Value::Object(extension)) = object
                .iter_mut()
                .find(|(key, _)| key.eq_ignore_ascii_case(urn))
                .map(|(_, value)| value)
            else {
                return;
            };
            extension
        }
        _ => object,
    };
    let key = target
        .keys()
        .find(|key| key.eq_ignore_ascii_case(&path.name))
        .cloned();
    if let Some(key) = key.filter(|key| !never_excluded.contains(&key.as_str())) {
        target.remove(&key);
    }
}

fn query_pairs(query: Option<&str>) -> Result<Vec<(String, String)>, ScimError> {
    let query = query.unwrap_or_default();
    if query.len() > MAX_QUERY_BYTES {
        return Err(invalid("The query string is too long."));
    }
    Ok(url::form_urlencoded::parse(query.as_bytes())
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect())
}

fn attribute_path(text: &str) -> Result<AttrPath, ScimError> {
    AttrPath::parse(text).ok_or_else(|| invalid("An attribute name is malformed."))
}

fn attribute_list<'a>(
    names: impl Iterator<Item = Option<&'a str>>,
) -> Result<Vec<AttrPath>, ScimError> {
    let paths = names
        .map(|name| name.ok_or_else(syntax).and_then(attribute_path))
        .collect::<Result<Vec<_>, _>>()?;
    if paths.len() > MAX_PROJECTED {
        return Err(invalid("Too many attribute names."));
    }
    Ok(paths)
}

fn descending(order: Option<&str>) -> Result<bool, ScimError> {
    match order {
        None => Ok(false),
        Some(order) if order.eq_ignore_ascii_case("ascending") => Ok(false),
        Some(order) if order.eq_ignore_ascii_case("descending") => Ok(true),
        Some(_) => Err(invalid("sortOrder must be ascending or descending.")),
    }
}

fn number(text: &str) -> Result<i64, ScimError> {
    text.trim()
        .parse()
        .map_err(|_| invalid("startIndex and count must be integers."))
}

fn start_index(value: Option<i64>) -> usize {
    value
        .and_then(|value| usize::try_from(value).ok())
        .unwrap_or(1)
        .max(1)
}

fn count(value: Option<i64>) -> usize {
    value
        .map(|value| usize::try_from(value).unwrap_or(0))
        .unwrap_or(MAX_PAGE_SIZE)
        .min(MAX_PAGE_SIZE)
}

/// Orders by the first value at `path`, case-insensitively; a resource without one sorts
/// after every resource with one (RFC 7644 §3.4.2.3).
fn compare(path: &AttrPath, left: &Value, right: &Value) -> Ordering {
    let key = |resource: &Value| {
        path.values(resource).first().map(|value| match value {
            Value::String(text) => text.to_lowercase(),
            other => other.to_string(),
        })
    };
    match (key(left), key(right)) {
        (Some(left), Some(right)) => left.cmp(&right),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn invalid(detail: &'static str) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

fn syntax() -> ScimError {
    ScimError::bad_request(
        ScimType::InvalidSyntax,
        "A search request member has the wrong type.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<Value> {
        ["carol", "alice", "bob"]
            .iter()
            .map(|name| json!({"id": name, "userName": name, "displayName": name.to_uppercase()}))
            .collect()
    }

    fn names(page: &Value) -> Vec<&str> {
        page["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|resource| resource["userName"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn pages_are_sorted_and_sliced_from_a_one_based_start_index() {
        let request =
            ListRequest::from_query(Some("sortBy=userName&startIndex=2&count=1")).unwrap();
        let page = request.page(users());
        assert_eq!(names(&page), ["bob"]);
        assert_eq!(page["totalResults"], 3);
        assert_eq!(page["itemsPerPage"], 1);
        assert_eq!(page["startIndex"], 2);

        let request =
            ListRequest::from_query(Some("sortBy=username&sortOrder=descending")).unwrap();
        assert_eq!(names(&request.page(users())), ["carol", "bob", "alice"]);
    }

    #[test]
    fn out_of_range_numbers_are_clamped_as_rfc_7644_says() {
        let request = ListRequest::from_query(Some("startIndex=-5&count=-1")).unwrap();
        let page = request.page(users());
        assert_eq!(page["startIndex"], 1);
        assert_eq!(names(&page).len(), 0);
        assert_eq!(page["totalResults"], 3);

        let request = ListRequest::from_query(Some("count=100000")).unwrap();
        assert_eq!(request.count, MAX_PAGE_SIZE);
    }

    #[test]
    fn filters_apply_before_paging_and_count_the_total() {
        let request = ListRequest::from_query(Some(
            "filter=userName%20sw%20%22b%22%20or%20userName%20eq%20%22carol%22&sortBy=userName",
        ))
        .unwrap();
        let page = request.page(users());
        assert_eq!(names(&page), ["bob", "carol"]);
        assert_eq!(page["totalResults"], 2);
    }

    #[test]
    fn projection_keeps_or_drops_attributes_but_never_the_id() {
        let request = ListRequest::from_query(Some("attributes=userName")).unwrap();
        let page = request.page(users());
        assert_eq!(
            page["Resources"][0],
            json!({"id": "carol", "userName": "carol"})
        );

        let request = ListRequest::from_query(Some("excludedAttributes=displayName,id")).unwrap();
        let page = request.page(users());
        assert_eq!(
            page["Resources"][0],
            json!({"id": "carol", "userName": "carol"})
        );
    }

    #[test]
    fn bad_parameters_are_refused_with_stable_codes() {
        for (query, expected) in [
            ("filter=userName%20eq", ScimType::InvalidFilter),
            ("count=ten", ScimType::InvalidValue),
            ("sortOrder=up", ScimType::InvalidValue),
            ("sortBy=a.b.c", ScimType::InvalidValue),
        ] {
            let error = ListRequest::from_query(Some(query)).unwrap_err();
            assert_eq!(error.scim_type(), Some(expected), "{query}");
        }
        let long = format!("filter={}", "a".repeat(MAX_QUERY_BYTES));
        assert!(ListRequest::from_query(Some(&long)).is_err());
    }

    #[test]
    fn search_bodies_are_read_like_queries() {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": "userName eq \"alice\"",
            "attributes": ["userName"],
            "count": 5
        });
        let request = ListRequest::from_search_body(&body).unwrap();
        assert_eq!(names(&request.page(users())), ["alice"]);
        let bad = json!({"count": "5"});
        let error = ListRequest::from_search_body(&bad).unwrap_err();
        assert_eq!(error.scim_type(), Some(ScimType::InvalidSyntax));
    }
}
