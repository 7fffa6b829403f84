//! TensorBoard event files, so that `tensorboard --logdir runs` shows every run's curves side by
//! side: each run folder gets `events.out.tfevents.<time>.<host>.<pid>.<n>.ssl-train` (one per invocation; a
//! resumed run adds a file, which TensorBoard reads as one run).
//!
//! What is written, from the metrics lines as they are logged: every step line's loss, loss parts,
//! learning rate, images/s, online probe accuracy, EMA τ and loss scale (`train/…`); every epoch's
//! mean loss and images/s (`epoch/…`); every monitor pass's kNN accuracy, participation ratio, α,
//! RankMe and collapsed dimensions (`monitor/…`) and its spectrum as a histogram of log10
//! eigenvalues (`monitor/log10_eigenvalues`); tracked weights' and embedding spectra likewise
//! (`track/…`).
//!
//! The format is TensorFlow's record file of `Event` protocol buffers (tensorflow
//! `core/util/event.proto`, `core/framework/summary.proto`): each record is the payload's length
//! (u64 LE), its masked CRC-32C, the payload, and the payload's masked CRC-32C. The messages are
//! declared here with prost; only the fields written are declared.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use prost::Message;

use super::metrics::MetricLine;

/// `tensorflow.Event` (the fields written).
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// Seconds since the epoch.
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    /// Training step.
    #[prost(int64, tag = "2")]
    pub step: i64,
    /// `"brain.Event:2"` in the first event of a file.
    #[prost(string, optional, tag = "3")]
    pub file_version: Option<String>,
    /// The values.
    #[prost(message, optional, tag = "5")]
    pub summary: Option<Summary>,
}

/// `tensorflow.Summary`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Summary {
    /// Tagged values.
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

/// `tensorflow.Summary.Value`: a scalar or a histogram.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SummaryValue {
    /// The curve's name.
    #[prost(string, tag = "1")]
    pub tag: String,
    /// A scalar.
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
    /// A histogram.
    #[prost(message, optional, tag = "5")]
    pub histo: Option<Histogram>,
}

/// `tensorflow.HistogramProto`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    /// Smallest value.
    #[prost(double, tag = "1")]
    pub min: f64,
    /// Largest value.
    #[prost(double, tag = "2")]
    pub max: f64,
    /// Number of values.
    #[prost(double, tag = "3")]
    pub num: f64,
    /// Sum of the values.
    #[prost(double, tag = "4")]
    pub sum: f64,
    /// Sum of their squares.
    #[prost(double, tag = "5")]
    pub sum_squares: f64,
    /// Right edges of the buckets.
    #[prost(double, repeated, tag = "6")]
    pub bucket_limit: Vec<f64>,
    /// Counts per bucket.
    #[prost(double, repeated, tag = "7")]
    pub bucket: Vec<f64>,
}

/// The CRC TensorFlow stores: CRC-32C, rotated and offset.
fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    (crc.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// One event file.
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Creates a new event file in `dir` (never over an existing one) and writes its header event.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "localhost".into());
        // A resume in the same second by the same process gets the next free number.
        let mut n = 0;
        let (path, file) = loop {
            let path = dir.join(format!("events.out.tfevents.{}.{host}.{}.{n}.ssl-train", now.as_secs(), std::process::id()));
            match std::fs::OpenOptions::new().create_new(true).write(true).open(&path) {
                Ok(file) => break (path, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
            }
        };
        let mut w = EventWriter { path, out: BufWriter::new(file) };
        w.write_event(&Event { wall_time: now.as_secs_f64(), step: 0, file_version: Some("brain.Event:2".into()), summary: None })?;
        w.out.flush().with_context(|| format!("cannot write {}", w.path.display()))?;
        Ok(w)
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_event(&mut self, event: &Event) -> Result<()> {
        let data = event.encode_to_vec();
        let len = (data.len() as u64).to_le_bytes();
        let io = |e: std::io::Error| anyhow::Error::new(e).context(format!("cannot write {}", self.path.display()));
        self.out.write_all(&len).map_err(io)?;
        self.out.write_all(&masked_crc(&len).to_le_bytes()).map_err(io)?;
        self.out.write_all(&data).map_err(io)?;
        self.out.write_all(&masked_crc(&data).to_le_bytes()).map_err(io)?;
        Ok(())
    }

    /// Writes the values of one step and flushes the file.
    pub fn write(&mut self, step: usize, values: Vec<SummaryValue>) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let wall_time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        self.write_event(&Event { wall_time, step: step as i64, file_version: None, summary: Some(Summary { value: values }) })?;
        self.out.flush().with_context(|| format!("cannot write {}", self.path.display()))
    }

    /// Writes what TensorBoard shows of a metrics line.
    pub fn log(&mut self, line: &MetricLine) -> Result<()> {
        let (step, values) = summary_of(line);
        self.write(step, values)
    }
}

/// A scalar value (non-finite values are left out: TensorBoard would draw them as gaps anyway).
fn scalar(tag: impl Into<String>, v: f64) -> Option<SummaryValue> {
    v.is_finite().then(|| SummaryValue { tag: tag.into(), simple_value: Some(v as f32), histo: None })
}

/// A histogram of log10 of the positive `values`, in 30 equal buckets.
pub fn log_histogram(tag: impl Into<String>, values: &[f64]) -> Option<SummaryValue> {
    let logs: Vec<f64> = values.iter().filter(|v| **v > 0.0 && v.is_finite()).map(|v| v.log10()).collect();
    let (lo, hi) = logs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if logs.is_empty() {
        return None;
    }
    let buckets = 30;
    let width = ((hi - lo) / buckets as f64).max(1e-9);
    let limits: Vec<f64> = (1..=buckets).map(|k| lo + width * k as f64).collect();
    let mut counts = vec![0.0; buckets];
    for v in &logs {
        counts[(((v - lo) / width) as usize).min(buckets - 1)] += 1.0;
    }
    Some(SummaryValue {
        tag: tag.into(),
        simple_value: None,
        histo: Some(Histogram {
            min: lo,
            max: hi,
            num: logs.len() as f64,
            sum: logs.iter().sum(),
            sum_squares: logs.iter().map(|v| v * v).sum(),
            bucket_limit: limits,
            bucket: counts,
        }),
    })
}

/// The step and the TensorBoard values of a metrics line.
pub fn summary_of(line: &MetricLine) -> (usize, Vec<SummaryValue>) {
    match line {
        MetricLine::Step(s) => {
            let mut v = vec![scalar("train/loss", s.loss), scalar("train/lr", s.lr), scalar("train/images_per_s", s.images_per_s)];
            v.extend(s.parts.iter().map(|(k, x)| scalar(format!("train/{k}"), *x)));
            v.extend(s.online_probe_acc.map(|x| scalar("train/online_probe_acc", x)));
            v.extend(s.ema_tau.map(|x| scalar("train/ema_tau", x)));
            v.extend(s.loss_scale.map(|x| scalar("train/loss_scale", x)));
            (s.step, v.into_iter().flatten().collect())
        }
        MetricLine::Epoch(e) => (e.step, [scalar("epoch/loss", e.loss), scalar("epoch/images_per_s", e.images_per_s)].into_iter().flatten().collect()),
        MetricLine::Monitor(m) => {
            let v = [
                scalar("monitor/knn_accuracy", m.knn_accuracy),
                scalar("monitor/participation_ratio", m.participation_ratio),
                scalar("monitor/alpha", m.alpha),
                scalar("monitor/rankme", m.rankme),
                scalar("monitor/collapsed_dims", m.collapsed_dims as f64),
                log_histogram("monitor/log10_eigenvalues", &m.eigenvalues),
            ];
            (m.step, v.into_iter().flatten().collect())
        }
        MetricLine::Track(t) => {
            let mut v: Vec<Option<SummaryValue>> = t.weights.iter().map(|(name, s)| log_histogram(format!("track/{name}/log10_singular_values"), s)).collect();
            v.extend(t.embedding.as_ref().map(|e| log_histogram("track/embedding/log10_eigenvalues", e)));
            (t.step, v.into_iter().flatten().collect())
        }
        MetricLine::Stopped(_) => (0, Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The masked CRC of TensorFlow's record format against TensorBoard's own
    /// (`tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c`, run once).
    #[test]
    fn the_masked_crc_matches_tensorboards() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283, "the CRC-32C check value");
        assert_eq!(masked_crc(b"123456789"), 0xc78a_b0e5);
        assert_eq!(masked_crc(b""), 0xa282_ead8);
    }

    #[test]
    fn a_histogram_counts_every_positive_value_once() {
        let h = log_histogram("x", &[1.0, 10.0, 100.0, 0.0, f64::NAN]).unwrap().histo.unwrap();
        assert_eq!(h.num, 3.0);
        assert_eq!(h.bucket.iter().sum::<f64>(), 3.0);
        assert_eq!((h.min, h.max), (0.0, 2.0));
        assert!(log_histogram("x", &[0.0]).is_none());
    }
}
