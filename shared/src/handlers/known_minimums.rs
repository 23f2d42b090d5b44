//! The per-process memory of each auction's last known minimum bid, so a bid clearly below it is refused
//! (`409 bid_too_low`) without any store call: no read of the hot auction item, no write.
//!
//! Safe because while an auction is active its minimum bid only ever rises (every accepted bid raises it,
//! nothing lowers it), so a minimum once seen is a lower bound of the current one: an amount below it is too
//! low now as well. Once the auction has ended such a bid is refused anyway (the store would say
//! `auction_not_active`); the answer is then `bid_too_low` with the last minimum, which is still true.
//!
//! A bid with an `Idempotency-Key` is never refused from here: it may be the retry of a bid that was
//! accepted (and raised the minimum past its own amount), whose answer is the original receipt, which only
//! the store has. The per-user rate limit bounds those.

use crate::domain::{AuctionId, Money};
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::Mutex;

/// What was last seen of one auction's price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownMinimum {
    pub current_price: Money,
    pub minimum_bid: Money,
}

/// A bounded map auction → the highest minimum bid seen, least recently used first out.
#[derive(Debug)]
pub struct KnownMinimums(Mutex<LruCache<AuctionId, KnownMinimum>>);

impl KnownMinimums {
    pub fn new(capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self(Mutex::new(LruCache::new(cap)))
    }

    /// Record an outcome's minimum. Keeps the higher one: outcomes of concurrent bids arrive in any order.
    pub fn observe(&self, auction: &AuctionId, seen: KnownMinimum) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(auction) {
            Some(known) if known.minimum_bid >= seen.minimum_bid => {}
            Some(known) => *known = seen,
            None => {
                map.put(auction.clone(), seen);
            }
        }
    }

    /// The known minimum of `auction` if `amount` is below it (the bid is certainly too low).
    pub fn refuses(&self, auction: &AuctionId, amount: Money) -> Option<KnownMinimum> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(auction)
            .copied()
            .filter(|known| amount < known.minimum_bid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: i64) -> Money {
        Money::new(c).unwrap()
    }
    fn id(s: &str) -> AuctionId {
        AuctionId::parse(s).unwrap()
    }
    fn seen(price: i64, min: i64) -> KnownMinimum {
        KnownMinimum {
            current_price: m(price),
            minimum_bid: m(min),
        }
    }

    #[test]
    fn refuses_only_below_the_highest_minimum_seen_and_stays_bounded() {
        let k = KnownMinimums::new(2);
        assert_eq!(
            k.refuses(&id("a"), m(1)),
            None,
            "nothing known: ask the store"
        );
        k.observe(&id("a"), seen(1_000, 1_100));
        // An older outcome arriving late never lowers it.
        k.observe(&id("a"), seen(900, 1_000));
        assert_eq!(k.refuses(&id("a"), m(1_099)), Some(seen(1_000, 1_100)));
        assert_eq!(
            k.refuses(&id("a"), m(1_100)),
            None,
            "at the minimum: ask the store"
        );
        // Bounded: a third auction pushes out the least recently used one.
        k.observe(&id("b"), seen(10, 20));
        k.observe(&id("c"), seen(10, 20));
        assert_eq!(k.refuses(&id("a"), m(1)), None);
        assert!(k.refuses(&id("c"), m(1)).is_some());
    }
}
