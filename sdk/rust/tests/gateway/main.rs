//! The Rust SDK against a real gateway (FAAS_ENDPOINT, FAAS_API_KEY, FAAS_API_KEY_2,
//! FAAS_API_KEY_LIMITED): run by `test/sdk/rust.test.ts`, which starts one. One test binary,
//! so the crate is linked once.

mod common;
mod errors;
mod execute;
mod instances;
mod retries;
mod snapshots;
mod stream;
mod usage;
