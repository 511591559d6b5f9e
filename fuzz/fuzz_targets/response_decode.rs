//! Everything a client decodes from one frame: typed headers, pull bodies, JSON bodies; see
//! `fuzz/drivers/response_decode.rs`.
#![no_main]

#[path = "../drivers/response_decode.rs"]
mod driver;

libfuzzer_sys::fuzz_target!(|data: &[u8]| driver::run(data));
