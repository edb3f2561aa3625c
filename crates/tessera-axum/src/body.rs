//! Request bodies, parsed as DRF's parsers do, with the contract's errors.
//!
//! - [`JsonObject`]: `application/json` only; [`FormObject`]: JSON, URL-encoded
//!   forms and multipart forms (DRF's `ObtainAuthToken` parsers).
//! - An empty body is an empty object; a body past the limit is `413` without
//!   reading the rest; another content type is `415`; malformed JSON, JSON
//!   nested past 128 levels, or JSON with a key given twice, is `400`
//!   `parse_error`. A body that is valid JSON but not an object is DRF's
//!   `non_field_errors` "Invalid data. Expected a dictionary, but got list."

use crate::error::{ApiError, Rejection, ValidationErrors};
use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http_body_util::{BodyExt, Limited};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// The largest body read, set per application with `Extension(BodyLimit(n))`;
/// 64 KiB when absent.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The default body limit.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// A JSON object body.
#[derive(Debug, Clone, Default)]
pub struct JsonObject(pub Map<String, Value>);

/// A JSON, URL-encoded or multipart body, as one object of fields.
#[derive(Debug, Clone, Default)]
pub struct FormObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = Rejection;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        read_object(req, false).await.map(JsonObject)
    }
}

impl<S: Send + Sync> FromRequest<S> for FormObject {
    type Rejection = Rejection;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        read_object(req, true).await.map(FormObject)
    }
}

async fn read_object(req: Request, forms: bool) -> Result<Map<String, Value>, Rejection> {
    let limit = req
        .extensions()
        .get::<BodyLimit>()
        .map_or(DEFAULT_BODY_LIMIT, |l| l.0);
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::too_large().into());
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let bytes = read_limited(req, limit).await?;
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    let content_type = content_type.unwrap_or_default();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let value = match media_type.as_str() {
        "application/json" => parse_json(&bytes)?,
        "application/x-www-form-urlencoded" if forms => parse_urlencoded(&bytes)?,
        "multipart/form-data" if forms => parse_multipart(&content_type, bytes).await?,
        _ => return Err(ApiError::unsupported_media_type(&content_type).into()),
    };
    match value {
        Value::Object(map) => Ok(map),
        other => Err(ValidationErrors::non_field(format!(
            "Invalid data. Expected a dictionary, but got {}.",
            python_type_name(&other)
        ))
        .into()),
    }
}

async fn read_limited(req: Request, limit: usize) -> Result<Bytes, Rejection> {
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large().into()),
        Err(e) => {
            tracing::debug!(error = %e, "request body could not be read");
            Err(ApiError::malformed_body("the body could not be read").into())
        }
    }
}

/// Parses JSON, refusing duplicate keys (parameter pollution) and deep nesting.
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let StrictValue(value) = StrictValue::deserialize(&mut de).map_err(ApiError::parse_error)?;
    de.end().map_err(ApiError::parse_error)?;
    Ok(value)
}

fn parse_urlencoded(bytes: &[u8]) -> Result<Value, ApiError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(bytes).map_err(ApiError::malformed_body)?;
    // Django's QueryDict.get returns the last value of a repeated key.
    let map: Map<String, Value> = pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Ok(Value::Object(map))
}

async fn parse_multipart(content_type: &str, bytes: Bytes) -> Result<Value, ApiError> {
    let boundary = multer::parse_boundary(content_type).map_err(ApiError::malformed_body)?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(bytes) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut map = Map::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(ApiError::malformed_body)?
    {
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        // A file is not a string: CharFields refuse it as "Not a valid string."
        let value = if field.file_name().is_some() {
            Value::Object(Map::new())
        } else {
            Value::String(field.text().await.map_err(ApiError::malformed_body)?)
        };
        map.insert(name, value);
    }
    Ok(Value::Object(map))
}

/// Python's name for a JSON value's type, as DRF's messages say it.
fn python_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// A JSON value whose objects may not repeat a key.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
            }
            let StrictValue(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_refuses_duplicates_and_depth() {
        assert!(parse_json(br#"{"a":1,"b":[1,{"c":null}]}"#).is_ok());
        let dup = parse_json(br#"{"a":1,"a":2}"#).err().map(|e| e.detail);
        assert_eq!(
            dup.as_deref(),
            Some("JSON parse error - duplicate key \"a\" at line 1 column 10")
        );
        let deep = "[".repeat(200) + &"]".repeat(200);
        let e = parse_json(deep.as_bytes())
            .err()
            .map(|e| e.detail)
            .unwrap_or_default();
        assert!(
            e.starts_with("JSON parse error - recursion limit exceeded"),
            "{e}"
        );
        assert!(parse_json(b"{} x").is_err());
    }

    #[test]
    fn python_type_names() {
        assert_eq!(python_type_name(&Value::from(1)), "int");
        assert_eq!(python_type_name(&Value::from(1.5)), "float");
        assert_eq!(python_type_name(&Value::Null), "NoneType");
    }
}
