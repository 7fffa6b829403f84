//! The recipes shipped with the runner (`recipes/*.toml`, compiled in): a Fashion-MNIST CPU
//! variant of every method (`*-fmnist`) and the published CIFAR-10 GPU settings (`*-cifar10`).

/// The recipes: (name, TOML text).
pub const RECIPES: &[(&str, &str)] = &[
    ("simclr-fmnist", include_str!("../recipes/simclr-fmnist.toml")),
    ("barlow-fmnist", include_str!("../recipes/barlow-fmnist.toml")),
    ("byol-fmnist", include_str!("../recipes/byol-fmnist.toml")),
    ("directclr-fmnist", include_str!("../recipes/directclr-fmnist.toml")),
    ("mmcr-fmnist", include_str!("../recipes/mmcr-fmnist.toml")),
    ("simclr-linproj-fmnist", include_str!("../recipes/simclr-linproj-fmnist.toml")),
    ("simclr-noproj-fmnist", include_str!("../recipes/simclr-noproj-fmnist.toml")),
    ("simclr-v2-fmnist", include_str!("../recipes/simclr-v2-fmnist.toml")),
    ("simsiam-fmnist", include_str!("../recipes/simsiam-fmnist.toml")),
    ("margin-fmnist", include_str!("../recipes/margin-fmnist.toml")),
    ("vicreg-fmnist", include_str!("../recipes/vicreg-fmnist.toml")),
    ("infomin-toy", include_str!("../recipes/infomin-toy.toml")),
    ("infomin-toy-frames", include_str!("../recipes/infomin-toy-frames.toml")),
    ("cmc-toy", include_str!("../recipes/cmc-toy.toml")),
    ("infomin-patches-fmnist", include_str!("../recipes/infomin-patches-fmnist.toml")),
    ("barlow-cifar10", include_str!("../recipes/barlow-cifar10.toml")),
    ("byol-cifar10", include_str!("../recipes/byol-cifar10.toml")),
    ("cmc-cifar10", include_str!("../recipes/cmc-cifar10.toml")),
    ("directclr-cifar10", include_str!("../recipes/directclr-cifar10.toml")),
    ("mmcr-cifar10", include_str!("../recipes/mmcr-cifar10.toml")),
    ("simclr-cifar10", include_str!("../recipes/simclr-cifar10.toml")),
    ("simclr-linproj-cifar10", include_str!("../recipes/simclr-linproj-cifar10.toml")),
    ("simclr-noproj-cifar10", include_str!("../recipes/simclr-noproj-cifar10.toml")),
    ("simsiam-cifar10", include_str!("../recipes/simsiam-cifar10.toml")),
    ("vicreg-cifar10", include_str!("../recipes/vicreg-cifar10.toml")),
];

/// The recipe `cargo xtask train` runs without arguments.
pub const DEFAULT_RECIPE: &str = "simclr-fmnist";
