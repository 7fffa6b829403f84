//! The error type of this crate: every fallible function returns [`Result`], whose
//! [`ModelError`] names what went wrong (the file, the variable, the configuration field) and keeps
//! the underlying cause ([`std::io::Error`], [`tch::TchError`], [`serde_json::Error`]) as its
//! [`std::error::Error::source`]. The message repeats the cause's text, so callers that keep only
//! the message (`anyhow::Error::msg`, `format!("{e}")`) lose nothing.

use std::path::{Path, PathBuf};

/// `Result` with [`ModelError`].
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// What went wrong in ssl-models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A file-system operation on `path` failed (`action`: e.g. `"rename the temporary file into
    /// place"`, as `ssl_io`'s atomic writes name their steps).
    #[error("{}: cannot {action}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// libtorch failed while doing `action` (on `path` when there is one).
    #[error("{}{action}", file_prefix(.path))]
    Torch {
        /// The file, when one is involved.
        path: Option<PathBuf>,
        /// What was being done (e.g. `"cannot write"`).
        action: &'static str,
        /// The cause.
        #[source]
        source: tch::TchError,
    },
    /// The checkpoint file does not exist.
    #[error("{}: no such checkpoint file", .path.display())]
    NoSuchFile {
        /// The file asked for.
        path: PathBuf,
    },
    /// The file exists but is not a readable `.safetensors` file (truncated, corrupt, another format).
    #[error("{}: not a readable safetensors file", .path.display())]
    NotSafetensors {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: tch::TchError,
    },
    /// A `.safetensors` file without the `state/json` entry that every checkpoint has.
    #[error("{}: no state/json entry; not a checkpoint of this toolkit", .path.display())]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
    },
    /// The checkpoint's `state/json` entry does not parse as a training state.
    #[error("{}: state/json is not a training state", .path.display())]
    BadState {
        /// The checkpoint.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The training state could not be serialised (for a checkpoint).
    #[error("cannot serialise the training state")]
    SerializeState {
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A variable of the model is not in the checkpoint.
    #[error("{}: missing variable `{name}`", .path.display())]
    MissingVariable {
        /// The checkpoint.
        path: PathBuf,
        /// The variable (with its store prefix).
        name: String,
    },
    /// A variable of the checkpoint has another shape than the model's.
    #[error("{}: `{name}` has shape {found:?}, the model expects {expected:?}", .path.display())]
    ShapeMismatch {
        /// The checkpoint.
        path: PathBuf,
        /// The variable (with its store prefix).
        name: String,
        /// Its shape in the checkpoint.
        found: Vec<i64>,
        /// Its shape in the model.
        expected: Vec<i64>,
    },
    /// The optimiser state (of a checkpoint, when `path` is set) does not fit the optimiser.
    #[error("{}the optimizer state does not fit the model", file_prefix(.path))]
    OptimizerState {
        /// The checkpoint, when the state came from one.
        path: Option<PathBuf>,
        /// What is wrong.
        #[source]
        source: OptimizerStateError,
    },
    /// [`crate::checkpoint::export_backbone`]: no variable has the prefix.
    #[error("no variable starts with `{prefix}`")]
    NoVariableWithPrefix {
        /// The prefix asked for.
        prefix: String,
    },
    /// A setting is out of range: `<field> = <value>: expected <expected>`.
    #[error("{field} = {value}: expected {expected}")]
    Config {
        /// The setting, e.g. `optimizer.momentum`.
        field: &'static str,
        /// The value given.
        value: String,
        /// The valid range, e.g. `0 <= momentum < 1`.
        expected: &'static str,
    },
    /// A head with fewer than two entries in `dims`.
    #[error("head dims {dims:?}: need at least [input, output]")]
    HeadTooShallow {
        /// The dims given.
        dims: Vec<i64>,
    },
    /// A head with a layer width below 1.
    #[error("head dims {dims:?}: width {width} must be >= 1")]
    HeadWidth {
        /// The dims given.
        dims: Vec<i64>,
        /// The first offending width.
        width: i64,
    },
    /// A `--device` value other than `cpu`, `cuda` or `auto`.
    #[error("unknown device `{name}`: expected cpu, cuda or auto")]
    UnknownDevice {
        /// The value given.
        name: String,
    },
    /// A memory format or precision the device cannot run (checked before any work).
    #[error("{setting}: {device} cannot run it: {why}")]
    Unsupported {
        /// The setting and its value, e.g. `training.precision = \"bfloat16\"`.
        setting: String,
        /// The device, e.g. `the CPU (Intel Xeon ...)`.
        device: String,
        /// What is missing.
        why: String,
    },
    /// libtorch refused to switch autocast.
    #[error("autocast: {message}")]
    Autocast {
        /// libtorch's message.
        message: String,
    },
    /// `--device cuda` without a CUDA device.
    #[error("--device cuda was asked for but libtorch sees no CUDA device")]
    CudaUnavailable,
    /// A momentum (EMA) encoder has a variable that the online network lacks.
    #[error("the online network has no variable `{name}`")]
    EmaMissingVariable {
        /// The variable.
        name: String,
    },
    /// A momentum (EMA) encoder's variable has another shape than the online one.
    #[error("variable `{name}`: online {online:?}, momentum {momentum:?}")]
    EmaShapeMismatch {
        /// The variable.
        name: String,
        /// Its shape in the online network.
        online: Vec<i64>,
        /// Its shape in the momentum encoder.
        momentum: Vec<i64>,
    },
}

/// What is wrong with saved optimiser state ([`crate::optim::Optimizer::load_state`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptimizerStateError {
    /// A name under `optimizer/` that is not `optimizer/<param>/<slot>`.
    #[error("optimizer state `{name}`: expected optimizer/<param>/<slot>")]
    BadName {
        /// The entry.
        name: String,
    },
    /// State for a parameter the optimiser does not have.
    #[error("optimizer state `{name}`: the model has no parameter `{param}`")]
    UnknownParameter {
        /// The entry.
        name: String,
        /// The parameter it names.
        param: String,
    },
    /// State whose shape is not its parameter's.
    #[error("optimizer state `{name}`: shape {found:?}, the parameter has {expected:?}")]
    ShapeMismatch {
        /// The entry.
        name: String,
        /// Its shape.
        found: Vec<i64>,
        /// The parameter's shape.
        expected: Vec<i64>,
    },
    /// A slot other than `momentum`, `exp_avg`, `exp_avg_sq`.
    #[error("optimizer state `{name}`: unknown slot `{slot}`")]
    UnknownSlot {
        /// The entry.
        name: String,
        /// The slot.
        slot: String,
    },
    /// No `optimizer/steps` entry.
    #[error("the checkpoint has no optimizer/steps")]
    NoSteps,
}

impl ModelError {
    /// The file this error is about, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ModelError::Io { path, .. }
            | ModelError::NoSuchFile { path }
            | ModelError::NotSafetensors { path, .. }
            | ModelError::NotACheckpoint { path }
            | ModelError::BadState { path, .. }
            | ModelError::MissingVariable { path, .. }
            | ModelError::ShapeMismatch { path, .. } => Some(path),
            ModelError::Torch { path, .. } | ModelError::OptimizerState { path, .. } => path.as_deref(),
            _ => None,
        }
    }

    /// Sets the file of an error that can name one but does not yet (optimiser state read from a
    /// checkpoint); other errors are returned unchanged.
    pub(crate) fn in_file(self, file: &Path) -> Self {
        match self {
            ModelError::OptimizerState { path: None, source } => ModelError::OptimizerState { path: Some(file.to_path_buf()), source },
            ModelError::Torch { path: None, action, source } => ModelError::Torch { path: Some(file.to_path_buf()), action, source },
            other => other,
        }
    }
}

impl From<OptimizerStateError> for ModelError {
    fn from(source: OptimizerStateError) -> Self {
        ModelError::OptimizerState { path: None, source }
    }
}

/// `"<path>: "` or nothing.
fn file_prefix(path: &Option<PathBuf>) -> String {
    path.as_ref().map(|p| format!("{}: ", p.display())).unwrap_or_default()
}
