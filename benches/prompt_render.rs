//! Placeholder replaced by the prompt registry work (issue 5).
fn main() {}
