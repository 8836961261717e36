//! JSON spellings shared by the verdict and the diagnosis.

use serde_json::{json, Value};

/// A JSON number, or the string `"nan"`, `"inf"`, `"-inf"`.
pub(crate) fn number(x: f64) -> Value {
    if x.is_nan() {
        json!("nan")
    } else if x.is_infinite() {
        json!(if x > 0.0 { "inf" } else { "-inf" })
    } else {
        json!(x)
    }
}
