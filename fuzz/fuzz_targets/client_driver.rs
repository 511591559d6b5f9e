//! A connection actor with requests in flight, fed arbitrary server behaviour over an in-memory
//! stream; see `fuzz/drivers/client_driver.rs`.
#![no_main]

#[path = "../drivers/client_driver.rs"]
mod driver;

libfuzzer_sys::fuzz_target!(|data: &[u8]| driver::run(data));
