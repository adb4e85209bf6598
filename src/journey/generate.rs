//! Synthetic journey reports (being written).
