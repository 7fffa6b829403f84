//! `report.json` (written by the final evaluation) and `eval.json` (written by `eval`): typed,
//! shared by the writers and the readers (`compare`).

use serde::{Deserialize, Serialize};
use ssl_analysis::report::{nullable_f64, EmbeddingReport, KnnSummary};

/// `report.json` of a run: the embedding report of the trained backbone's test embeddings (the
/// same keys as `cargo xtask analyze`, with the kNN probe against the training set), and the
/// same encoder at initialisation and raw pixels for comparison.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// The trained backbone's report.
    #[serde(flatten)]
    pub trained: EmbeddingReport,
    /// kNN accuracy of the encoder at initialisation.
    #[serde(deserialize_with = "nullable_f64")]
    pub knn_accuracy_init: f64,
    /// kNN accuracy of raw pixels.
    #[serde(deserialize_with = "nullable_f64")]
    pub knn_accuracy_raw_pixels: f64,
    /// The spectrum of the encoder at initialisation.
    pub init: InitSpectrum,
}

/// A few spectral numbers of the encoder at initialisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitSpectrum {
    /// Participation ratio.
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
}

/// `eval.json`: the protocols `cargo xtask eval` ran.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The run folder.
    pub run: String,
    /// Its recipe name.
    pub recipe: String,
    /// Its objective.
    pub objective: String,
    /// Weighted cosine kNN of the frozen backbone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub knn: Option<KnnResult>,
    /// The linear probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linear: Option<LinearResult>,
    /// Fine-tuning on label fractions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finetune: Option<FinetuneResult>,
    /// Self-distillation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distill: Option<DistillResult>,
    /// Factor probes of the frozen backbone on the toy dataset's test split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factors: Option<ssl_analysis::factors::FactorProbes>,
}

impl EvalReport {
    /// An empty report of a run.
    pub fn new(run: &std::path::Path, recipe: &str, objective: &str) -> Self {
        EvalReport {
            run: run.display().to_string(),
            recipe: recipe.into(),
            objective: objective.into(),
            knn: None,
            linear: None,
            finetune: None,
            distill: None,
            factors: None,
        }
    }
}

/// kNN accuracy and its settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KnnResult {
    /// Accuracy.
    pub accuracy: f64,
    /// Settings.
    #[serde(flatten)]
    pub settings: KnnSummary,
}

/// The linear probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearResult {
    /// Test accuracy.
    pub accuracy: f64,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Last training loss.
    pub final_loss: f64,
    /// The optimiser, in words.
    pub optimizer: String,
    /// The augmentations, in words.
    pub augmentations: String,
}

/// Fine-tuning on label fractions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinetuneResult {
    /// Epochs per fraction.
    pub epochs: usize,
    /// Projector layers kept below the classifier.
    pub from_head_layer: usize,
    /// One row per fraction.
    pub results: Vec<FractionResult>,
    /// The optimiser, in words.
    pub optimizer: String,
    /// How the subset is drawn.
    pub subset: String,
}

/// Fine-tuning on one label fraction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FractionResult {
    /// The fraction.
    pub fraction: f64,
    /// Labelled images used.
    pub images: usize,
    /// Test accuracy.
    pub accuracy: f64,
}

/// Self-distillation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DistillResult {
    /// Student width.
    pub student_width: i64,
    /// Teacher width.
    pub teacher_width: i64,
    /// Epochs.
    pub epochs: usize,
    /// Student test accuracy.
    pub accuracy: f64,
    /// Teacher test accuracy.
    pub teacher_accuracy: f64,
    /// Softmax temperature τ.
    pub temperature: f64,
    /// Weight 1 − α of the label term (0: pure distillation).
    #[serde(default)]
    pub label_weight: f64,
    /// Images whose labels the label term used (the teacher's fine-tuning subset).
    #[serde(default)]
    pub labelled_images: usize,
    /// Training images (distilled with or without labels).
    pub images: usize,
}
