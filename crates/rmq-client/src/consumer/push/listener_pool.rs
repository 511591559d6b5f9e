//! The consume threads of a sync listener: `consume_thread_min` threads started with the consumer,
//! growing up to `consume_thread_max` while every thread is busy and work is waiting (Java's
//! `consumeExecutor`). Jobs are plain closures taken from one shared queue; nothing here touches the
//! async runtime, so a slow listener never blocks it.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};

use tracing::warn;

type Job = Box<dyn FnOnce() + Send + 'static>;

struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    max: usize,
    name: String,
}

/// A bounded pool of listener threads. Dropping the pool lets its threads finish the queued jobs and
/// exit.
pub(crate) struct ListenerPool {
    shared: Arc<Shared>,
}

impl ListenerPool {
    pub(crate) fn new(name: &str, min: usize, max: usize) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                jobs: VecDeque::new(),
                threads: 0,
                idle: 0,
                closed: false,
            }),
            ready: Condvar::new(),
            max: max.max(1),
            name: name.to_owned(),
        });
        let pool = ListenerPool { shared };
        for _ in 0..min.clamp(1, pool.shared.max) {
            pool.spawn_thread();
        }
        pool
    }

    fn spawn_thread(&self) {
        let shared = self.shared.clone();
        if let Ok(mut s) = shared.state.lock() {
            s.threads += 1;
        }
        let name = format!("{}-consume", shared.name);
        let spawned = std::thread::Builder::new()
            .name(name)
            .spawn(move || worker(&shared));
        if let Err(e) = spawned {
            warn!(error = %e, "cannot start a consume thread");
            if let Ok(mut s) = self.shared.state.lock() {
                s.threads -= 1;
            }
        }
    }

    /// Queue `job`; a thread is added when none is idle and the pool is below its maximum.
    pub(crate) fn submit(&self, job: impl FnOnce() + Send + 'static) {
        let grow = match self.shared.state.lock() {
            Ok(mut s) => {
                s.jobs.push_back(Box::new(job));
                s.idle == 0 && s.threads < self.shared.max
            }
            Err(_) => return,
        };
        if grow {
            self.spawn_thread();
        }
        self.shared.ready.notify_one();
    }
}

impl Drop for ListenerPool {
    fn drop(&mut self) {
        if let Ok(mut s) = self.shared.state.lock() {
            s.closed = true;
        }
        self.shared.ready.notify_all();
    }
}

fn worker(shared: &Shared) {
    loop {
        let job = {
            let Ok(mut s) = shared.state.lock() else { return };
            loop {
                if let Some(job) = s.jobs.pop_front() {
                    break job;
                }
                if s.closed {
                    s.threads -= 1;
                    return;
                }
                s.idle += 1;
                s = match shared.ready.wait(s) {
                    Ok(s) => s,
                    Err(_) => return,
                };
                s.idle -= 1;
            }
        };
        job();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;

    #[test]
    fn runs_every_job_and_never_exceeds_max_threads() {
        let pool = ListenerPool::new("t", 2, 4);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        for i in 0..40 {
            let (running, peak, tx) = (running.clone(), peak.clone(), tx.clone());
            pool.submit(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                tx.send(i).unwrap_or_default();
            });
        }
        let mut done: Vec<i32> = (0..40).map(|_| rx.recv().unwrap_or(-1)).collect();
        done.sort_unstable();
        assert_eq!(done, (0..40).collect::<Vec<_>>());
        let p = peak.load(Ordering::SeqCst);
        assert!((1..=4).contains(&p), "peak {p}");
        let threads = pool.shared.state.lock().map(|s| s.threads).unwrap_or(0);
        assert!(threads <= 4, "{threads} threads");
    }
}
