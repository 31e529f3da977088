//! Cost arithmetic, totals per model, and the budget.

mod api_support;

use api_support::{Scope, err, request};
use holysheep_vault::Error;
use serde_json::json;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-9)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_reply_is_costed_from_the_price_table_and_totalled_per_model() {
    let scope = Scope::new("cost", json!([])).await;
    let prices = json!({"my-model": {"input": 1.0, "output": 3.0}, "gpt-4.1": 9});
    let client = scope.client(json!({"prices": prices}));

    let a = client.chat(&request("gpt-4.1", "price me"), Default::default()).await.unwrap();
    let u = a.usage.unwrap();
    assert!(u.prompt_tokens > 0 && u.completion_tokens > 0);
    let cost_a = (u.prompt_tokens + u.completion_tokens) as f64 * 9.0 / 1e6;
    assert!(close(a.meta.cost_usd.unwrap(), cost_a), "{:?} vs {cost_a}", a.meta.cost_usd);

    let b =
        client.chat(&request("my-model", "split prices please"), Default::default()).await.unwrap();
    let v = b.usage.unwrap();
    let cost_b = (v.prompt_tokens as f64 * 1.0 + v.completion_tokens as f64 * 3.0) / 1e6;
    assert!(close(b.meta.cost_usd.unwrap(), cost_b));

    // The server's own relay-style figure at the default price agrees with ours.
    let c = client.chat(&request("deepseek-v3.2", "cheap"), Default::default()).await.unwrap();
    let relay = c.raw["usage"]["cost_usd"].as_f64().unwrap();
    assert!(close(c.meta.cost_usd.unwrap(), relay), "{:?} vs {relay}", c.meta.cost_usd);

    // No price: no cost, a zero in the totals, but tokens still counted.
    let d = client.chat(&request("unpriced-model", "free?"), Default::default()).await.unwrap();
    assert_eq!(d.meta.cost_usd, None);

    let s = client.stats();
    assert!(close(s.cost_usd, cost_a + cost_b + c.meta.cost_usd.unwrap()));
    assert!(close(s.models["gpt-4.1"].cost_usd, cost_a));
    assert_eq!(s.models["my-model"].tokens_out, v.completion_tokens);
    assert_eq!(s.models["unpriced-model"].cost_usd, 0.0);
    assert_eq!(s.models["unpriced-model"].requests, 1);
    let all = [&a, &b, &c, &d];
    assert_eq!(s.tokens_in, all.iter().map(|r| r.usage.unwrap().prompt_tokens).sum::<u64>());
    assert_eq!(s.tokens_out, all.iter().map(|r| r.usage.unwrap().completion_tokens).sum::<u64>());
    assert_eq!(s.budget_usd, None);
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["models"]["gpt-4.1"]["cost_usd"].is_number(), "{json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_spent_budget_refuses_calls_before_sending() {
    let scope = Scope::new("budget", json!([])).await;
    let client = scope.client(json!({"budget_usd": 0.0000001}));
    let first =
        client.chat(&request("claude-sonnet-4.5", "spend it"), Default::default()).await.unwrap();
    assert!(first.meta.cost_usd.unwrap() > 0.0000001);
    for _ in 0..3 {
        let e =
            err(client.chat(&request("claude-sonnet-4.5", "too much"), Default::default()).await);
        match e {
            Error::BudgetExceeded { budget_usd, spent_usd } => {
                assert_eq!(budget_usd, 0.0000001);
                assert!(close(spent_usd, first.meta.cost_usd.unwrap()));
            }
            other => panic!("{other:?}"),
        }
    }
    let e =
        err(client.stream(&request("claude-sonnet-4.5", "streams too"), Default::default()).await);
    assert_eq!(e.code(), "budget_exceeded");
    assert_eq!(scope.attempts().await, 1);
    let s = client.stats();
    assert_eq!(s.requests, 1);
    assert_eq!(s.errors["budget_exceeded"], 4);
    assert_eq!(s.budget_left_usd, Some(0.0));

    // A zero budget refuses the very first call: nothing at all is sent.
    let scope = Scope::new("budget-zero", json!([])).await;
    let client = scope.client(json!({"budget_usd": 0}));
    let e = err(client.chat(&request("gpt-4.1", "no"), Default::default()).await);
    assert_eq!(e.code(), "budget_exceeded");
    assert_eq!(scope.attempts().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn budget_left_goes_down_with_each_call() {
    let scope = Scope::new("budget-left", json!([])).await;
    let client = scope.client(json!({"budget_usd": 1.0}));
    let r = client.chat(&request("gpt-4.1", "a"), Default::default()).await.unwrap();
    let left = client.stats().budget_left_usd.unwrap();
    assert!(close(left, 1.0 - r.meta.cost_usd.unwrap()));
}
