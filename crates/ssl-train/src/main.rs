//! The runner's command line (normally reached through `cargo xtask <task>`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ssl_models::DeviceChoice;
use ssl_train::cmd::eval::Protocol;
use ssl_train::config::{Config, Problems, RunConfig, Source};
use ssl_train::recipes::DEFAULT_RECIPE;
use ssl_train::trainer::{preflight, train, RunOptions};

#[derive(Parser)]
#[command(name = "ssl-train", about = "Self-supervised training, evaluation and diagnosis")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

/// The recipe a command works on: a shipped one or a file, with overrides.
#[derive(clap::Args)]
struct RecipeArgs {
    /// A shipped recipe by name (see `recipes`; default: the SimCLR Fashion-MNIST recipe).
    #[arg(long, conflicts_with = "config")]
    recipe: Option<String>,
    /// A recipe file (TOML).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Override a recipe key, e.g. --set schedule.lr=0.3 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

impl RecipeArgs {
    /// The recipe file or shipped recipe named (the default recipe when neither is).
    fn source(&self) -> Source {
        match (&self.config, &self.recipe) {
            (Some(p), _) => Source::File(p.clone()),
            (None, r) => Source::Recipe(r.clone().unwrap_or_else(|| DEFAULT_RECIPE.into())),
        }
    }

    /// The checked config of [`RecipeArgs::source`] with the overrides.
    fn load(&self) -> anyhow::Result<Config> {
        Config::load(&self.source(), &self.overrides)
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Train a recipe (default: SimCLR on Fashion-MNIST) and evaluate it.
    Train {
        #[command(flatten)]
        recipe: RecipeArgs,
        /// cpu, cuda or auto (a run option, not part of the recipe: a run resumes on any device).
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// libtorch CPU threads (default: libtorch's choice, one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Run folder name under --runs-dir (default: <recipe>-<date>-<time>).
        #[arg(long)]
        name: Option<String>,
        /// Parent folder of run folders.
        #[arg(long, default_value = "runs")]
        runs_dir: PathBuf,
        /// Print the resolved config and exit.
        #[arg(long)]
        dry_run: bool,
        /// Continue an interrupted run folder from its checkpoint (its config.toml is used; a
        /// --recipe/--config/--set that changes it is refused).
        #[arg(long, value_name = "RUN")]
        resume: Option<PathBuf>,
        /// Data-parallel on this machine: start N processes (ranks) that split every batch, as
        /// `torchrun --nproc-per-node N` would. Under torchrun, srun or a PyTorchJob, leave it
        /// out: the launcher's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT are read instead.
        #[arg(long, value_name = "N")]
        nproc: Option<usize>,
        /// The process group of a data-parallel run: gloo (CPU), nccl (CUDA), or auto (nccl on
        /// CUDA, else gloo).
        #[arg(long, default_value = "auto", value_parser = ["auto", "gloo", "nccl"])]
        dist_backend: String,
        /// Seconds a data-parallel run waits for a peer (store connection, each collective)
        /// before failing with a message naming the rank.
        #[arg(long, default_value_t = 300)]
        dist_timeout: u64,
    },
    /// Print torch version, CUDA devices, BLAS and datasets.
    Doctor {
        /// Data folder.
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
    },
    /// Compare finished runs: one table and their spectra overlaid in one plot.
    Compare {
        /// Run folders.
        runs: Vec<PathBuf>,
        /// Where to write the overlaid spectra (.png or .svg; never over an existing file).
        /// Default: runs/compare-<date>-<time>.png.
        #[arg(long)]
        plot: Option<PathBuf>,
        /// Print the table as Markdown.
        #[arg(long)]
        markdown: bool,
    },
    /// Export a run's backbone (and projector) embeddings and labels of a split as .npy.
    Export {
        /// The run folder.
        #[arg(long)]
        run: PathBuf,
        /// train or test.
        #[arg(long, default_value = "test", value_parser = ["train", "test"])]
        split: String,
        /// Output folder (default: <run>/export).
        #[arg(long)]
        out: Option<PathBuf>,
        /// cpu, cuda or auto.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// Comma-separated layers: input, stem, layer1, layer2, layer3, layer4, pool, projector
        /// (feature maps average-pooled over H x W). Default: the representation and projector.
        #[arg(long, value_delimiter = ',')]
        layers: Option<Vec<ssl_train::cmd::export::Layer>>,
        /// Augmentation manifolds: K views of each image (with --images).
        #[arg(long, requires = "images")]
        views: Option<usize>,
        /// Augmentation manifolds: the first N images of the split (with --views).
        #[arg(long, requires = "views")]
        images: Option<usize>,
        /// The pipeline drawing the views: train (the run's), simclr, mmcr or byol.
        #[arg(long, default_value = "train", requires = "views")]
        pipeline: ssl_train::cmd::export::ViewPipeline,
        /// The training epoch whose views are reproduced.
        #[arg(long, default_value_t = 0, requires = "views")]
        epoch: u64,
    },
    /// Evaluate a run: kNN, linear probe, fine-tuning on 1%/10% of labels, distillation.
    Eval {
        /// The run folder.
        #[arg(long)]
        run: PathBuf,
        /// Comma-separated protocols: knn, linear, finetune, distill, factors (toy dataset).
        #[arg(long, default_value = "knn,linear", value_delimiter = ',')]
        protocols: Vec<Protocol>,
        /// Linear-probe epochs.
        #[arg(long, default_value_t = 5)]
        linear_epochs: usize,
        /// Fine-tuning epochs per label fraction.
        #[arg(long, default_value_t = 10)]
        finetune_epochs: usize,
        /// Comma-separated label fractions for fine-tuning.
        #[arg(long, default_value = "0.01,0.1")]
        fractions: String,
        /// Fine-tune from the output of the first N projector layers (SimCLR v2: 1).
        #[arg(long, default_value_t = 0)]
        from_head_layer: usize,
        /// Distillation epochs.
        #[arg(long, default_value_t = 2)]
        distill_epochs: usize,
        /// Student width (default: half the run's width).
        #[arg(long)]
        student_width: Option<i64>,
        /// Softmax temperature of the distillation term (SimCLR v2 eq. 3).
        #[arg(long, default_value_t = 1.0)]
        distill_temperature: f64,
        /// Weight of the label term on the teacher's labelled images (0: pure distillation).
        #[arg(long, default_value_t = 0.0)]
        distill_label_weight: f64,
        /// Supervised batch size.
        #[arg(long, default_value_t = 256)]
        batch_size: usize,
        /// Output file (default <run>/eval.json; never overwritten).
        #[arg(long)]
        out: Option<PathBuf>,
        /// cpu, cuda or auto.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
    },
    /// Render a grid of a recipe's training views (rows: images; columns: original, then k views).
    Views {
        #[command(flatten)]
        recipe: RecipeArgs,
        /// Number of images (rows).
        #[arg(long, default_value_t = 6)]
        images: usize,
        /// Views per image (default: the recipe's views.count; 1 for model.split, whose views are
        /// channel groups of one draw).
        #[arg(long)]
        views: Option<usize>,
        /// Seed of the drawn views.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output PNG (never overwritten).
        #[arg(long, default_value = "views.png")]
        out: PathBuf,
    },
    /// Images/s of a recipe's loader alone, its step alone and both together, on the device it
    /// would train on (a temporary run folder, deleted after).
    Bench {
        #[command(flatten)]
        recipe: RecipeArgs,
        /// cpu, cuda or auto.
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// libtorch CPU threads (default: libtorch's choice, one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Timed batches per measurement.
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// Untimed batches before each measurement.
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the shipped recipes.
    Recipes,
    /// Reproduce a paper's finding: trains what it needs, writes summary.json, summary.md and
    /// figures (SVG + PNG) into --out (see docs/studies/).
    Study {
        /// The study.
        study: ssl_train::study::Study,
        /// Which part (default: the study's first).
        #[arg(long)]
        part: Option<ssl_train::study::Part>,
        /// Output folder, new or empty (default: runs/study-<name>-<date>-<time>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// SGD steps of each toy run (default: the paper's 10000).
        #[arg(long)]
        toy_steps: Option<usize>,
        /// Training epochs of each real-data run (default: the part's).
        #[arg(long)]
        epochs: Option<usize>,
        /// Training images of each real-data run (default: the part's; 0 = all).
        #[arg(long)]
        train_limit: Option<usize>,
        /// Seed of every run (infomin colour and sweetspot parts; default: the recipe's), to
        /// measure how much the table moves from seed to seed.
        #[arg(long)]
        seed: Option<u64>,
        /// cpu, cuda or auto (real-data parts).
        #[arg(long, default_value = "auto")]
        device: DeviceChoice,
        /// libtorch CPU threads (real-data parts).
        #[arg(long)]
        threads: Option<usize>,
    },
}

/// A second Ctrl-C at least this long after the first aborts without saving.
const REPEAT_IS_ABORT: std::time::Duration = std::time::Duration::from_secs(1);

fn main() -> ExitCode {
    ssl_io::cli::one_line_panics();
    ssl_analysis::use_fast_openblas_kernels();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", ssl_io::cli::without_cpp_backtrace(&format!("{e:#}")));
            if let Some(JobFailed(code)) = e.downcast_ref::<JobFailed>() {
                return ExitCode::from(u8::try_from(*code).unwrap_or(1).max(1));
            }
            if e.downcast_ref::<ssl_train::trainer::Interrupted>().is_some() {
                // Saved and resumable: the shell's code for an interrupt.
                return ExitCode::from(130);
            }
            ExitCode::FAILURE
        }
    }
}

/// A `train --nproc` job whose rank failed with this exit code (each rank printed its error).
#[derive(Debug)]
struct JobFailed(i32);

impl std::fmt::Display for JobFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the data-parallel job failed (exit code {})", self.0)
    }
}

impl std::error::Error for JobFailed {}

/// This command line without `--nproc N` / `--nproc=N` (what each rank runs).
fn without_nproc(args: Vec<String>) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut skip = false;
    for a in args {
        if skip {
            skip = false;
        } else if a == "--nproc" {
            skip = true;
        } else if !a.starts_with("--nproc=") {
            out.push(a);
        }
    }
    out
}

/// What `train --dry-run` ends with: every problem found, or that all checks passed.
fn dry_run_verdict(problems: Vec<String>) -> anyhow::Result<()> {
    if problems.is_empty() {
        println!("dry run: every check passed (config, run folder, data, views); nothing was written");
        Ok(())
    } else {
        Err(anyhow::Error::new(Problems(problems)).context("dry run"))
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Cmd::Train { recipe: recipe_args, device, threads, name, runs_dir, dry_run, resume, nproc, dist_backend, dist_timeout } => {
            let RecipeArgs { recipe, config, overrides } = &recipe_args;
            if let Some(n) = nproc.filter(|_| !dry_run) {
                let args = without_nproc(std::env::args().skip(1).collect());
                let code = ssl_train::cmd::launch::spawn_local(n, args, name.as_deref(), threads, resume.is_some())?;
                return if code == 0 { Ok(()) } else { Err(anyhow::Error::new(JobFailed(code))) };
            }
            let launch = ssl_dist::Launch::from_env()?;
            let mut opts = RunOptions {
                device,
                threads,
                runs_root: runs_dir,
                name,
                resume: resume.clone(),
                command: std::env::args().collect::<Vec<_>>().join(" "),
                ..Default::default()
            };
            let with_sets = if overrides.is_empty() { String::new() } else { format!(" with --set {}", overrides.join(" ")) };
            let cfg = match &resume {
                Some(run) => {
                    let saved =
                        ssl_train::config::read_saved(&run.join("config.toml")).map_err(|e| anyhow::anyhow!("cannot resume {}: {e:#}", run.display()))?;
                    if recipe.is_some() || config.is_some() || !overrides.is_empty() {
                        let src = if recipe.is_none() && config.is_none() { Source::File(run.join("config.toml")) } else { recipe_args.source() };
                        let asked = Config::load(&src, overrides)?;
                        let diff = ssl_train::config::differences(&saved, &asked);
                        if !diff.is_empty() {
                            anyhow::bail!(
                                "cannot resume {}: its config differs from the one given ({}); resume without --recipe/--config/--set, or start a new run",
                                run.display(),
                                diff.join(", ")
                            );
                        }
                    }
                    println!("# config ({})\n{}", run.join("config.toml").display(), saved.to_toml());
                    saved
                }
                None => {
                    let src = recipe_args.source();
                    if dry_run {
                        // Every problem at once: the config's ranges, the run folder, the data.
                        let raw = RunConfig::load(&src, overrides)?;
                        println!("# config ({src}{with_sets})\n{}", raw.to_toml());
                        return dry_run_verdict(preflight(&raw, &opts));
                    }
                    let cfg = Config::load(&src, overrides)?;
                    println!("# config ({src}{with_sets})\n{}", cfg.to_toml());
                    cfg
                }
            };
            if dry_run {
                return dry_run_verdict(preflight(&cfg, &opts));
            }
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            let first = std::sync::OnceLock::<std::time::Instant>::new();
            ctrlc::set_handler(move || {
                let at = *first.get_or_init(std::time::Instant::now);
                if !flag.swap(true, Ordering::SeqCst) {
                    eprintln!("\nCtrl-C: stopping after this step and saving a checkpoint (press again after a second to abort at once)");
                } else if at.elapsed() >= REPEAT_IS_ABORT {
                    eprintln!("\nCtrl-C again: aborting without saving");
                    // At once: std::process::exit would run libtorch's static destructors while
                    // the training thread is inside a kernel, and crash (SIGSEGV) instead of 130.
                    // SAFETY: _exit ends the process; nothing after it runs.
                    unsafe { libc::_exit(130) };
                }
                // A repeat within the second is the same interrupt delivered twice (the terminal
                // and a wrapper, or `timeout`, both signal the process): the save goes on.
            })?;
            opts.stop = Some(stop);
            if let Some(launch) = launch {
                let cuda = ssl_models::pick_device(device)?.is_cuda();
                let backend = match dist_backend.as_str() {
                    "gloo" => ssl_dist::Backend::Gloo,
                    "nccl" => ssl_dist::Backend::Nccl,
                    _ if cuda => ssl_dist::Backend::Nccl,
                    _ => ssl_dist::Backend::Gloo,
                };
                if backend == ssl_dist::Backend::Nccl && !cuda {
                    anyhow::bail!("--dist-backend nccl needs CUDA tensors: use --device cuda on a GPU machine, or --dist-backend gloo");
                }
                opts.progress &= launch.rank == 0;
                opts.parallel = Some(ssl_train::parallel::Parallel::connect(launch, backend, std::time::Duration::from_secs(dist_timeout))?);
            }
            let s = train(&cfg, &opts)?;
            let Some(eval) = &s.eval else { return Ok(()) };
            println!("\n{}", eval.table(cfg.training.epochs));
            let r = &eval.spectrum;
            println!(
                "test embeddings: participation ratio {:.2}, alpha {:.3} (ranks {}-{}, R² {:.3}), RankMe {:.2}",
                r.participation_ratio, r.alpha, r.alpha_fit_ranks[0], r.alpha_fit_ranks[1], r.alpha_r2, r.rankme
            );
            println!("run folder: {} (wall time {:.1} min)", s.dir.display(), s.wall_seconds / 60.0);
            if eval.knn_trained <= eval.knn_pixels.max(eval.knn_init) {
                println!("note: the trained encoder does not beat both baselines with this budget");
            }
            Ok(())
        }
        Cmd::Doctor { data_dir } => {
            for line in ssl_train::cmd::doctor::report(&data_dir) {
                println!("{line}");
            }
            Ok(())
        }
        Cmd::Compare { runs, plot, markdown } => {
            let plot = plot.unwrap_or_else(|| PathBuf::from(format!("runs/compare-{}.png", chrono::Local::now().format("%Y%m%d-%H%M%S"))));
            let table = ssl_train::cmd::compare::compare(&runs, &plot)?;
            if markdown {
                let rows: Vec<_> = runs.iter().map(|r| ssl_train::cmd::compare::read_run(r)).collect::<anyhow::Result<_>>()?;
                print!("{}", ssl_train::cmd::compare::markdown(&rows));
            } else {
                print!("{table}");
            }
            println!("spectra: {}", plot.display());
            Ok(())
        }
        Cmd::Export { run, split, out, device, layers, views, images, pipeline, epoch } => {
            let split = if split == "train" { ssl_data::Split::Train } else { ssl_data::Split::Test };
            let views = views.zip(images).map(|(views, images)| ssl_train::cmd::export::ViewsExport { views, images, pipeline, epoch });
            let opts = ssl_train::cmd::export::ExportOptions { split, out, device, layers, views };
            for p in ssl_train::cmd::export::export(&run, &opts)? {
                println!("wrote {}", p.display());
            }
            Ok(())
        }
        Cmd::Eval {
            run,
            protocols,
            linear_epochs,
            finetune_epochs,
            fractions,
            from_head_layer,
            distill_epochs,
            student_width,
            distill_temperature,
            distill_label_weight,
            batch_size,
            out,
            device,
        } => {
            let fractions = fractions
                .split(',')
                .map(|f| f.trim().parse::<f64>().map_err(|_| anyhow::anyhow!("--fractions: `{f}` is not a number")))
                .collect::<anyhow::Result<Vec<f64>>>()?;
            let opts = ssl_train::cmd::eval::EvalOptions {
                protocols,
                linear_epochs,
                finetune_epochs,
                fractions,
                from_head_layer,
                distill_epochs,
                student_width,
                distill_temperature,
                distill_label_weight,
                batch_size,
                out,
                device,
            };
            let (path, result) = ssl_train::cmd::eval::evaluate_run(&run, &opts)?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            println!("wrote {}", path.display());
            Ok(())
        }
        Cmd::Bench { recipe, device, threads, steps, warmup, json } => {
            let cfg = recipe.load()?;
            let report = ssl_train::cmd::bench::bench(&cfg, &ssl_train::cmd::bench::BenchOptions { device, threads, steps, warmup })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                report.lines().iter().for_each(|l| println!("{l}"));
            }
            Ok(())
        }
        Cmd::Views { recipe, images, views, seed, out } => {
            let src = recipe.source();
            let cfg = recipe.load()?;
            let (rows, cols) = ssl_train::cmd::views::views_grid(&cfg, images, views.unwrap_or(cfg.model.draws_per_image(cfg.views.count)), seed, &out)?;
            println!("wrote {} ({rows} images x {} views of {src}, first column the original)", out.display(), cols - 1);
            Ok(())
        }
        Cmd::Study { study, part, out, toy_steps, epochs, train_limit, seed, device, threads } => {
            let out = out.unwrap_or_else(|| PathBuf::from(format!("runs/study-{}-{}", study.name(), chrono::Local::now().format("%Y%m%d-%H%M%S"))));
            let opts = ssl_train::study::StudyOptions { part, out: out.clone(), toy_steps, epochs, train_limit, seed, device, threads, progress: true };
            let summary = ssl_train::study::run(study, &opts)?;
            println!("{summary}");
            println!("study folder: {}", out.display());
            Ok(())
        }
        Cmd::Recipes => {
            for line in ssl_train::cmd::recipes::list() {
                println!("{line}");
            }
            Ok(())
        }
    }
}
