//! Time is a parameter: the monotonic clock and sleeper every wait goes through.
//!
//! Production code uses [`TokioClock`]. Unit tests use [`ManualClock`], whose `sleep` returns at
//! once and moves the clock forward, so rate-limit and retry logic runs instantly and
//! deterministically. Nothing in this crate reads the local *wall* clock: watermarks and
//! rate-limit windows are computed from the server's `Date` and `X-Rate-Limit-Reset` headers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// A boxed sleep future.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A monotonic clock with a sleeper.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current monotonic instant.
    fn now(&self) -> Instant;
    /// Waits for `d`.
    fn sleep(&self, d: Duration) -> Sleep;
}

/// The real clock: [`Instant::now`] and `tokio::time::sleep`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, d: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(d))
    }
}

/// A test clock: sleeping advances it instantly; every sleep is recorded.
#[cfg(test)]
#[derive(Debug)]
pub struct ManualClock {
    origin: Instant,
    state: std::sync::Mutex<(Duration, Vec<Duration>)>,
}

#[cfg(test)]
impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            origin: Instant::now(),
            state: std::sync::Mutex::new((Duration::ZERO, Vec::new())),
        }
    }
}

#[cfg(test)]
impl ManualClock {
    /// A clock at an arbitrary origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward without sleeping.
    pub fn advance(&self, d: Duration) {
        self.state.lock().unwrap().0 += d;
    }

    /// Every sleep requested so far.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state.lock().unwrap().1.clone()
    }
}

#[cfg(test)]
impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + self.state.lock().unwrap().0
    }

    fn sleep(&self, d: Duration) -> Sleep {
        let mut s = self.state.lock().unwrap();
        s.0 += d;
        s.1.push(d);
        Box::pin(std::future::ready(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_sleeps_instantly() {
        let c = ManualClock::new();
        let t0 = c.now();
        c.sleep(Duration::from_secs(60)).await;
        c.advance(Duration::from_secs(1));
        assert_eq!(c.now() - t0, Duration::from_secs(61));
        assert_eq!(c.sleeps(), vec![Duration::from_secs(60)]);
    }
}
