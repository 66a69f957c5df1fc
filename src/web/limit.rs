//! The rate limit of login attempts per network address, in memory.
//!
//! The lock-out in the database ([`super::auth::login`]) protects each
//! account; this protects against one address trying many accounts (and
//! against the argon2id work every attempt costs). Each address has a
//! bucket of [`BURST`] attempts that refills one attempt every [`REFILL`];
//! an attempt with an empty bucket gets 429 with Retry-After, before any
//! password is looked at. IPv6 addresses count per /64, the block one
//! subscriber usually gets, so rotating addresses within it gains nothing.
//!
//! The address is the client's ([`crate::server::client`]): the TCP peer,
//! or whom a trusted reverse proxy forwards for; behind a proxy that is not
//! named as trusted, every user shares the proxy's bucket. The limit is per
//! process and starts empty after a restart; the lock-out is what holds
//! across processes.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Attempts an address may make at once: a shared office address logging
/// in in the morning fits in it.
pub const BURST: u32 = 20;
/// One more attempt per this long (20 a minute sustained).
pub const REFILL: Duration = Duration::from_secs(3);
/// Addresses tracked before idle ones are forgotten; beyond it (after
/// forgetting) new addresses share one bucket, so memory stays bounded.
const MAX_TRACKED: usize = 10_000;

/// Login attempt buckets per address.
pub struct LoginLimiter {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
    burst: f64,
    refill: Duration,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(BURST, REFILL)
    }
}

impl LoginLimiter {
    pub fn new(burst: u32, refill: Duration) -> LoginLimiter {
        LoginLimiter {
            buckets: Mutex::new(HashMap::new()),
            burst: f64::from(burst.max(1)),
            refill: refill.max(Duration::from_millis(1)),
        }
    }

    /// Takes one attempt for `addr`; `Err(wait)` when there is none left,
    /// with the time until the next one.
    pub fn take(&self, addr: IpAddr) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut key = key(addr);
        if !buckets.contains_key(&key) && buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| self.refilled(*b, now) < self.burst);
            if buckets.len() >= MAX_TRACKED {
                key = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            Err(self.refill.mul_f64(1.0 - tokens))
        }
    }

    fn refilled(&self, b: Bucket, now: Instant) -> f64 {
        let gained = now.duration_since(b.at).as_secs_f64() / self.refill.as_secs_f64();
        (b.tokens + gained).min(self.burst)
    }
}

/// The bucket an address counts in: IPv4 as is (also when mapped into
/// IPv6), IPv6 by its /64.
fn key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The address used when the server does not know the peer (the server
/// was started without connection info): everyone shares its bucket.
pub const UNKNOWN_PEER: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusal_per_address() {
        let l = LoginLimiter::new(3, Duration::from_secs(3600));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.take(a).is_ok());
        }
        let wait = l.take(a).expect_err("fourth refused");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(3600));
        assert!(l.take(b).is_ok(), "another address has its own bucket");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let l = LoginLimiter::new(1, Duration::from_secs(3600));
        assert!(l.take("2001:db8:1:2::1".parse().unwrap()).is_ok());
        assert!(l.take("2001:db8:1:2:ffff::9".parse().unwrap()).is_err());
        assert!(l.take("2001:db8:1:3::1".parse().unwrap()).is_ok());
        assert!(l.take("192.0.2.7".parse().unwrap()).is_ok());
        assert!(l.take("::ffff:192.0.2.7".parse().unwrap()).is_err());
    }

    #[test]
    fn memory_stays_bounded() {
        let l = LoginLimiter::new(1, Duration::from_secs(3600));
        for i in 0..(MAX_TRACKED as u32 + 50) {
            let _ = l.take(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)));
        }
        let tracked = l.buckets.lock().unwrap().len();
        assert!(tracked <= MAX_TRACKED + 1, "{tracked}");
    }
}
