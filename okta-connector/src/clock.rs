//! Time is a parameter: the monotonic clock and sleeper every wait goes through.
//!
//! Production code uses [`TokioClock`]. Tests use `ManualClock` (outside this crate with the
//! `testkit` feature), whose `sleep` returns at once and moves the clock forward, so rate-limit
//! and retry logic runs instantly and deterministically. Nothing in this crate reads the local *wall* clock: watermarks and
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

/// What a [`ManualClock`] also does with every sleep (e.g. move a simulator's clock).
#[cfg(any(test, feature = "testkit"))]
pub type SleepHook = Box<dyn Fn(Duration) + Send + Sync>;

/// A test clock: sleeping advances it instantly; every sleep is recorded, and handed to the
/// optional hook (so a simulator's clock can move along: virtual time end to end).
#[cfg(any(test, feature = "testkit"))]
pub struct ManualClock {
    origin: Instant,
    state: std::sync::Mutex<(Duration, Vec<Duration>)>,
    hook: Option<SleepHook>,
}

#[cfg(any(test, feature = "testkit"))]
impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .field("hooked", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(any(test, feature = "testkit"))]
impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            origin: Instant::now(),
            state: std::sync::Mutex::new((Duration::ZERO, Vec::new())),
            hook: None,
        }
    }
}

#[cfg(any(test, feature = "testkit"))]
impl ManualClock {
    /// A clock at an arbitrary origin.
    pub fn new() -> Self {
        Self::default()
    }

    /// A clock that also calls `hook` with every sleep, after advancing itself.
    pub fn with_hook(hook: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        ManualClock {
            hook: Some(Box::new(hook)),
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Duration, Vec<Duration>)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Moves the clock forward without sleeping.
    pub fn advance(&self, d: Duration) {
        self.lock().0 += d;
    }

    /// How far the clock has moved since it was made.
    pub fn elapsed(&self) -> Duration {
        self.lock().0
    }

    /// Every sleep requested so far.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().1.clone()
    }
}

#[cfg(any(test, feature = "testkit"))]
impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.origin + self.lock().0
    }

    fn sleep(&self, d: Duration) -> Sleep {
        {
            let mut s = self.lock();
            s.0 += d;
            s.1.push(d);
        }
        if let Some(hook) = &self.hook {
            hook(d);
        }
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
