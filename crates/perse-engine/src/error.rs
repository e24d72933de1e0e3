//! The one error type of the crate.
//!
//! Model files come from disk (or, later, from a download), so every way a file can be
//! wrong — short, garbage, inconsistent header, shapes that do not fit the layer list — is
//! an error value, never a panic. Runtime shape mismatches (a caller feeding the wrong input
//! size) are errors too.

use std::path::PathBuf;

/// Everything that can go wrong when loading or running a network.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The model file could not be read at all.
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file ends before the header or a tensor it announces.
    #[error("model file truncated: {0}")]
    Truncated(String),
    /// The header is not the expected JSON document.
    #[error("model header is invalid: {0}")]
    Header(String),
    /// A tensor entry is inconsistent (dtype, shape, offsets) or has the wrong shape for its layer.
    #[error("tensor `{name}`: {reason}")]
    Tensor { name: String, reason: String },
    /// The `graph` metadata is missing, malformed or refers to unknown values/tensors.
    #[error("graph metadata: {0}")]
    Graph(String),
    /// A layer met an input it cannot process (wrong channel count, too small, mismatched shapes).
    #[error("layer `{layer}`: {reason}")]
    Layer { layer: String, reason: String },
    /// The caller's image or chip does not match what the function expects.
    #[error("invalid input: {0}")]
    Input(String),
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, EngineError>;

impl EngineError {
    pub(crate) fn tensor(name: &str, reason: impl Into<String>) -> Self {
        EngineError::Tensor {
            name: name.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn layer(layer: &str, reason: impl Into<String>) -> Self {
        EngineError::Layer {
            layer: layer.to_string(),
            reason: reason.into(),
        }
    }
}
