//! Choosing free local TCP ports.
//!
//! Candidates are random ports below Linux's ephemeral range (32768+) so they do not collide
//! with outgoing connections; a candidate is free when every port of its block can be bound on
//! `127.0.0.1`, `0.0.0.0` and `[::]`. Ports handed out once are never handed out again by this
//! process. Another process may still take a port before the JVM binds it, so callers retry
//! on "Address already in use".

use std::collections::hash_map::RandomState;
use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::sync::{Mutex, PoisonError};

use crate::error::{Error, Result};

const LOW: u16 = 20_000;
const HIGH: u16 = 32_000;
const ATTEMPTS: usize = 500;

static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A base port `p` such that `p + o` is free for every `o` in `offsets`.
///
/// A broker needs `offsets = [-2, 0, 1]` (fast port, listen port, HA port).
pub(crate) fn pick_block(offsets: &[i32]) -> Result<u16> {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(PoisonError::into_inner);
    for _ in 0..ATTEMPTS {
        let base = random_in(LOW + 8, HIGH - 8);
        let ports: Option<Vec<u16>> = offsets
            .iter()
            .map(|o| u16::try_from(i32::from(base) + o).ok())
            .collect();
        let Some(ports) = ports else { continue };
        if ports.iter().all(|p| !handed_out.contains(p) && is_free(*p)) {
            handed_out.extend(ports);
            return Ok(base);
        }
    }
    Err(Error::NoFreePorts { attempts: ATTEMPTS })
}

/// Whether nothing listens on `port` (IPv4 loopback and wildcard, IPv6 wildcard if available).
pub(crate) fn is_free(port: u16) -> bool {
    let v4 = |ip: Ipv4Addr| TcpListener::bind((ip, port)).is_ok();
    if !v4(Ipv4Addr::LOCALHOST) || !v4(Ipv4Addr::UNSPECIFIED) {
        return false;
    }
    match TcpListener::bind((Ipv6Addr::UNSPECIFIED, port)) {
        Ok(_) => true,
        Err(e) => e.kind() != ErrorKind::AddrInUse,
    }
}

fn random_in(low: u16, high: u16) -> u16 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let span = u64::from(high - low);
    // `span` fits in u16, so the sum does too.
    low + u16::try_from(hasher.finish() % span).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_block_is_free_and_never_repeated() {
        let a = pick_block(&[-2, 0, 1]).unwrap();
        let b = pick_block(&[-2, 0, 1]).unwrap();
        for base in [a, b] {
            assert!((LOW..HIGH).contains(&base));
            for p in [base - 2, base, base + 1] {
                assert!(is_free(p), "port {p} should be free");
            }
        }
        let a_ports: BTreeSet<u16> = [a - 2, a, a + 1].into();
        assert!([b - 2, b, b + 1].iter().all(|p| !a_ports.contains(p)));
    }

    #[test]
    fn taken_port_is_not_free() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!is_free(port));
        drop(listener);
    }

    #[test]
    fn skips_blocks_with_a_busy_port() {
        // Occupy many ports of the range; every block returned must avoid them.
        let busy: Vec<TcpListener> = (0..50)
            .filter_map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, random_in(LOW, HIGH))).ok())
            .collect();
        let busy_ports: BTreeSet<u16> = busy.iter().map(|l| l.local_addr().unwrap().port()).collect();
        for _ in 0..20 {
            let base = pick_block(&[-2, 0, 1]).unwrap();
            assert!([base - 2, base, base + 1].iter().all(|p| !busy_ports.contains(p)));
        }
    }
}
