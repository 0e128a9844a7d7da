//! `loa report` run as the operator runs it (being built).
