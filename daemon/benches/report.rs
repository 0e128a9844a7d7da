//! `loa report` over a province's year of rows (being built).

fn main() {}
