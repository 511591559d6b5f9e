//! A lossy link, as far as a TCP proxy can fake one.
//!
//! Packet loss cannot be injected above TCP: the kernel retransmits, so what an application sees
//! of heavy loss is *stalls* (nothing moves until a retransmission gets through, the gap growing
//! with the retransmission timeout) and, when the retransmissions run out, a *reset*
//! connection. [`lossy_link`] plays that on the fault proxies in front of the brokers: in each
//! cycle the links are black-holed for a random stall (bytes held, never lost), then pass for a
//! random window; every `reset_every`-th cycle ends with every connection reset (RST) instead.
//! With the default plan nothing moves about 80 % of the time, as with 80 % loss.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rmq_testkit::{Fault, ProxiedCluster};

/// A lossy-link schedule.
#[derive(Debug, Clone, Copy)]
pub struct LossyPlan {
    /// Shortest and longest stall.
    pub stall: (Duration, Duration),
    /// Shortest and longest pass window.
    pub pass: (Duration, Duration),
    /// Every n-th cycle resets every connection (0: never).
    pub reset_every: u64,
}

impl Default for LossyPlan {
    /// Stalls of 100–900 ms, passes of 100–300 ms (so about 80 % stalled), a reset every 5th
    /// cycle.
    fn default() -> Self {
        LossyPlan {
            stall: (Duration::from_millis(100), Duration::from_millis(900)),
            pass: (Duration::from_millis(100), Duration::from_millis(300)),
            reset_every: 5,
        }
    }
}

/// What a [`lossy_link`] run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossyOutcome {
    /// Stall windows.
    pub stalls: u64,
    /// Times every broker connection was reset.
    pub resets: u64,
    /// Time spent stalled or reset.
    pub stalled: Duration,
}

/// Runs `plan` on every broker proxy of `proxied` (the name server's is left alone) for `length`,
/// then lets everything pass again.
pub async fn lossy_link(proxied: &ProxiedCluster, plan: LossyPlan, length: Duration) -> LossyOutcome {
    let set = |fault: Fault| {
        for (_, proxy) in proxied.brokers() {
            proxy.set_fault(fault);
        }
    };
    let mut rng = XorShift::seeded();
    let mut outcome = LossyOutcome::default();
    let started = Instant::now();
    let mut cycle = 0u64;
    while started.elapsed() < length {
        cycle += 1;
        let stall = rng.between(plan.stall);
        set(Fault::BlackHole);
        outcome.stalls += 1;
        tokio::time::sleep(stall).await;
        outcome.stalled += stall;
        if plan.reset_every > 0 && cycle % plan.reset_every == 0 {
            // Retransmissions ran out: the connections die.
            set(Fault::Reset);
            outcome.resets += 1;
            let reset = Duration::from_millis(50);
            tokio::time::sleep(reset).await;
            outcome.stalled += reset;
        }
        set(Fault::Pass);
        tokio::time::sleep(rng.between(plan.pass)).await;
    }
    set(Fault::Pass);
    outcome
}

/// xorshift64: tests need no better randomness.
struct XorShift(u64);

impl XorShift {
    fn seeded() -> XorShift {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        XorShift(seed | 1)
    }

    fn between(&mut self, (low, high): (Duration, Duration)) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let unit = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        low + high.saturating_sub(low).mul_f64(unit)
    }
}
