//! The profile model and its file format.

pub mod model;

pub use model::*;
