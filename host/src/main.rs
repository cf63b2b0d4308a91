//! Reference host engine.

fn main() {}
