//! `metrics.jsonl`: one JSON line per event, written and read through [`MetricLine`].
//!
//! Every line has a `kind`: `step` (every `log.every_steps` steps), `epoch` (after each epoch),
//! `monitor` (the collapse watch, at initialisation and after every `monitor.every_epochs`),
//! `track` (singular values of chosen weights and the embedding spectrum, every
//! `track.every_steps`) or `stopped` (interrupted or a non-finite loss). Non-finite numbers are written as `null` (JSON
//! has no NaN) and read back as NaN.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Deserializer, Serialize};
use ssl_analysis::report::nullable_f64;

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MetricLine {
    /// A training step.
    Step(StepLine),
    /// The end of an epoch.
    Epoch(EpochLine),
    /// A monitor pass.
    Monitor(MonitorLine),
    /// Weight and embedding spectra (see `crate::track`).
    Track(TrackLine),
    /// Training stopped early.
    Stopped(StoppedLine),
}

/// Singular values of tracked weights and the embedding covariance spectrum at one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackLine {
    /// 1-based epoch of the last step (0 before training).
    pub epoch: usize,
    /// Steps done.
    pub step: usize,
    /// Weight name → its singular values, descending.
    pub weights: BTreeMap<String, Vec<f64>>,
    /// Covariance eigenvalues of the backbone's embeddings of the tracked images, descending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f64>>,
}

/// A logged training step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLine {
    /// 1-based epoch.
    pub epoch: usize,
    /// Steps done.
    pub step: usize,
    /// The loss.
    pub loss: f64,
    /// Learning rate of the step.
    pub lr: f64,
    /// Training images per second since the last logged step.
    pub images_per_s: f64,
    /// EMA momentum of the target (BYOL, MMCR with a momentum encoder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema_tau: Option<f64>,
    /// The online linear probe's accuracy since the last logged step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online_probe_acc: Option<f64>,
    /// The loss scale (mixed precision on CUDA).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scale: Option<f64>,
    /// The objective's named parts (e.g. `alignment`, `uniformity`, `invariance`).
    #[serde(flatten)]
    pub parts: BTreeMap<String, f64>,
}

/// The end of an epoch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochLine {
    /// 1-based epoch.
    pub epoch: usize,
    /// Steps done.
    pub step: usize,
    /// Mean loss over the epoch's steps.
    pub loss: f64,
    /// Wall time of the epoch.
    pub seconds: f64,
    /// Training images per second over the epoch (all processes of a data-parallel run).
    pub images_per_s: f64,
    /// Data-parallel runs: seconds of the epoch rank 0 spent in collectives (sending, and
    /// waiting for the other ranks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communication_seconds: Option<f64>,
}

/// The monitor's look at the backbone (see `crate::monitor`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MonitorLine {
    /// Epochs done (0 = at initialisation).
    pub epoch: usize,
    /// Steps done.
    pub step: usize,
    /// kNN accuracy on the small bank.
    #[serde(deserialize_with = "nullable_f64")]
    pub knn_accuracy: f64,
    /// Bank size.
    pub knn_bank: usize,
    /// Query count.
    pub knn_queries: usize,
    /// Neighbours.
    pub knn_k: usize,
    /// Participation ratio of the query embeddings.
    #[serde(deserialize_with = "nullable_f64")]
    pub participation_ratio: f64,
    /// Power-law α.
    #[serde(deserialize_with = "nullable_f64")]
    pub alpha: f64,
    /// R² of the α fit.
    #[serde(deserialize_with = "nullable_f64")]
    pub alpha_r2: f64,
    /// RankMe.
    #[serde(deserialize_with = "nullable_f64")]
    pub rankme: f64,
    /// Eigenvalues at or below `collapse_threshold` × the largest.
    pub collapsed_dims: usize,
    /// The relative threshold.
    pub collapse_threshold: f64,
    /// Representation dimension.
    pub dim: usize,
    /// The query embeddings' covariance eigenvalues, descending (absent in lines written before
    /// they were logged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub eigenvalues: Vec<f64>,
    /// Wall time of this measurement in seconds (embedding, kNN, spectrum), outside the epoch's
    /// `seconds` (absent in lines written before it was logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

impl MonitorLine {
    /// One line for the terminal.
    pub fn describe(&self) -> String {
        format!(
            "epoch {}: kNN {:.4} (bank {}, queries {}), PR {:.2}, alpha {:.3}, RankMe {:.1}, collapsed dims {}/{}{}",
            self.epoch,
            self.knn_accuracy,
            self.knn_bank,
            self.knn_queries,
            self.participation_ratio,
            self.alpha,
            self.rankme,
            self.collapsed_dims,
            self.dim,
            self.seconds.map_or(String::new(), |s| format!(" ({s:.1} s)"))
        )
    }
}

/// Why training stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    /// Ctrl-C (or a test's stop): a checkpoint was saved.
    #[serde(rename = "interrupted")]
    Interrupted,
    /// The loss became NaN or infinite: nothing was saved.
    #[serde(rename = "non-finite loss")]
    NonFiniteLoss,
}

/// Training stopped early.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoppedLine {
    /// Why.
    pub reason: StopReason,
    /// 1-based epoch.
    pub epoch: usize,
    /// The step (1-based for a non-finite loss: the step that failed; else steps done).
    pub step: usize,
    /// The non-finite loss.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "nullable_opt_f64")]
    pub loss: Option<f64>,
}

fn nullable_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    nullable_f64(d).map(Some)
}

impl MetricLine {
    /// The line as JSON (no newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("metric lines serialise")
    }
}

/// Reads every line of a `metrics.jsonl`; a line that does not parse is an error naming it.
pub fn read_metrics(path: &Path) -> Result<Vec<MetricLine>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).with_context(|| format!("{} line {}: not a metrics line", path.display(), i + 1)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_with_parts_and_nan() {
        let step = MetricLine::Step(StepLine {
            epoch: 1,
            step: 10,
            loss: 2.5,
            lr: 0.1,
            images_per_s: 300.0,
            ema_tau: Some(0.99),
            online_probe_acc: None,
            loss_scale: None,
            parts: [("alignment".to_string(), 0.5)].into_iter().collect(),
        });
        let json = step.to_json();
        assert!(json.contains("\"kind\":\"step\"") && json.contains("\"alignment\":0.5") && !json.contains("online_probe_acc"), "{json}");
        assert_eq!(serde_json::from_str::<MetricLine>(&json).unwrap(), step);
        let stopped = MetricLine::Stopped(StoppedLine { reason: StopReason::NonFiniteLoss, epoch: 2, step: 7, loss: Some(f64::NAN) });
        let json = stopped.to_json();
        assert!(json.contains("\"reason\":\"non-finite loss\"") && json.contains("\"loss\":null"), "{json}");
        let MetricLine::Stopped(back) = serde_json::from_str(&json).unwrap() else { panic!("{json}") };
        assert!(back.loss.unwrap().is_nan());
        let m = r#"{"kind":"monitor","epoch":0,"step":0,"knn_accuracy":0.5,"knn_bank":10,"knn_queries":4,"knn_k":5,"participation_ratio":1.5,"alpha":null,"alpha_r2":null,"rankme":3.0,"collapsed_dims":0,"collapse_threshold":1e-5,"dim":8}"#;
        let MetricLine::Monitor(back) = serde_json::from_str(m).unwrap() else { panic!() };
        assert!(back.alpha.is_nan() && back.rankme == 3.0);
    }
}
