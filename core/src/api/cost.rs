//! Cost accounting and the counters behind `stats()`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::api::types::Usage;
use crate::config::Price;
use crate::error::{Error, Result};

/// Usage and cost of one model in [`crate::Stats`].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ModelUsage {
    /// Successful calls.
    pub requests: u64,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
}

/// What a usage costs at a price, in USD (prices are per million tokens).
pub fn cost_of(price: Price, usage: Usage) -> f64 {
    (usage.prompt_tokens as f64 * price.input + usage.completion_tokens as f64 * price.output)
        / 1_000_000.0
}

#[derive(Debug, Default)]
struct Ledger {
    spent_usd: f64,
    tokens_in: u64,
    tokens_out: u64,
    models: BTreeMap<String, ModelUsage>,
    errors: BTreeMap<&'static str, u64>,
    unpriced_warned: HashSet<String>,
}

/// The counters of one client. Atomics for what every attempt touches; one short lock for the
/// per-model and per-error maps, never held across an await.
#[derive(Debug)]
pub(crate) struct Metrics {
    prices: BTreeMap<String, Price>,
    budget_usd: Option<f64>,
    pub(crate) requests: AtomicU64,
    pub(crate) attempts: AtomicU64,
    pub(crate) retries: AtomicU64,
    ledger: Mutex<Ledger>,
}

impl Metrics {
    pub(crate) fn new(prices: BTreeMap<String, Price>, budget_usd: Option<f64>) -> Self {
        Metrics {
            prices,
            budget_usd,
            requests: AtomicU64::new(0),
            attempts: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            ledger: Mutex::new(Ledger::default()),
        }
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        // A panic elsewhere while holding the lock leaves only counters behind: keep going.
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Refuses a call once the budget is spent. Calls already in flight may still overshoot it
    /// by their own cost: the check happens before sending, the cost is known only after.
    pub(crate) fn check_budget(&self) -> Result<()> {
        if let Some(budget_usd) = self.budget_usd {
            let spent_usd = self.ledger().spent_usd;
            if spent_usd >= budget_usd {
                return Err(Error::BudgetExceeded { budget_usd, spent_usd });
            }
        }
        Ok(())
    }

    /// The price of a call: the model the request named, else the one the response named.
    pub(crate) fn price(&self, requested: &str, answered: &str) -> Option<Price> {
        self.prices.get(requested).or_else(|| self.prices.get(answered)).copied()
    }

    /// The cost of `usage`, or `None` (logged once per model) when the model has no price.
    pub(crate) fn cost(&self, requested: &str, answered: &str, usage: Usage) -> Option<f64> {
        match self.price(requested, answered) {
            Some(price) => Some(cost_of(price, usage)),
            None => {
                if self.ledger().unpriced_warned.insert(requested.to_owned()) {
                    tracing::warn!(
                        model = requested,
                        "no price for this model: its calls count as $0 (set `prices` to fix)"
                    );
                }
                None
            }
        }
    }

    /// Adds a successful call to the totals.
    pub(crate) fn record_call(&self, model: &str, usage: Option<Usage>, cost_usd: Option<f64>) {
        let usage = usage.unwrap_or_default();
        let cost = cost_usd.unwrap_or(0.0);
        let mut ledger = self.ledger();
        ledger.spent_usd += cost;
        ledger.tokens_in += usage.prompt_tokens;
        ledger.tokens_out += usage.completion_tokens;
        let entry = ledger.models.entry(model.to_owned()).or_default();
        entry.requests += 1;
        entry.tokens_in += usage.prompt_tokens;
        entry.tokens_out += usage.completion_tokens;
        entry.cost_usd += cost;
    }

    pub(crate) fn record_error(&self, error: &Error) {
        *self.ledger().errors.entry(error.code()).or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> crate::client::Stats {
        let ledger = self.ledger();
        crate::client::Stats {
            vault: Default::default(),
            requests: self.requests.load(Ordering::Relaxed),
            attempts: self.attempts.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            errors: ledger.errors.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            tokens_in: ledger.tokens_in,
            tokens_out: ledger.tokens_out,
            cost_usd: ledger.spent_usd,
            models: ledger.models.clone(),
            budget_usd: self.budget_usd,
            budget_left_usd: self.budget_usd.map(|b| (b - ledger.spent_usd).max(0.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_per_million_tokens_split_by_direction() {
        let price = Price { input: 2.0, output: 8.0 };
        let usage = Usage { prompt_tokens: 1_000, completion_tokens: 500, total_tokens: 1_500 };
        assert!((cost_of(price, usage) - (0.002 + 0.004)).abs() < 1e-12);
    }

    #[test]
    fn budget_refuses_once_spent() {
        let m = Metrics::new(crate::config::default_prices(), Some(0.01));
        m.check_budget().unwrap();
        let usage = Usage { prompt_tokens: 1_000, completion_tokens: 1_000, total_tokens: 2_000 };
        let cost = m.cost("gpt-4.1", "", usage);
        assert_eq!(cost, Some(0.016));
        m.record_call("gpt-4.1", Some(usage), cost);
        let err = m.check_budget().unwrap_err();
        assert_eq!(err.code(), "budget_exceeded");
        let s = m.snapshot();
        assert_eq!(s.budget_left_usd, Some(0.0));
        assert_eq!(s.models["gpt-4.1"].tokens_out, 1_000);
        assert_eq!(m.cost("unknown", "also-unknown", usage), None);
    }
}
