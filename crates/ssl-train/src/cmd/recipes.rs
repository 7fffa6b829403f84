//! `cargo xtask recipes`: the shipped recipes, one line each.

use crate::recipes::RECIPES;

/// One line per recipe: its name and the first line of its comment.
pub fn list() -> Vec<String> {
    RECIPES
        .iter()
        .map(|(name, text)| {
            let first = text.lines().next().unwrap_or("").trim_start_matches("# ");
            format!("{name:<20} {first}")
        })
        .collect()
}
