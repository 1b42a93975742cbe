//! `make bench`: the in-memory core of simulation (`shared::domain::simulation::count`) on a
//! generated population: N certificate holders spread over 1,000 services (each holder in 1 to
//! 5 of them), counted for a proposal that about a third of the services imply, beside the
//! naive method on the same data (for each holder, test every service it holds). Prints the
//! time of each for N = 10,000, 100,000 and 1,000,000, their ratio, and how each grows with N.
//!
//! The aggregate that feeds it from DynamoDB (bitmaps kept up to date from the Certificates
//! stream) and the `simulate` function are not built yet (issue 8): this measures the core.

// Test code: a failed unwrap is a failed test, which is what it should be.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use roaring::RoaringBitmap;
use serde_json::json;
use shared::domain::algebra::Constraint;
use shared::domain::conditions::Conditions;
use shared::domain::service::Service;
use shared::domain::simulation::{Holders, Normalised, count};

const SERVICES: usize = 1_000;

/// A small deterministic generator (xorshift): the same population every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn catalog() -> Vec<Service> {
    (0..SERVICES)
        .map(|i| {
            // Every third service asks age <= 40 (implies the proposal "age <= 50"); the others
            // ask other things.
            let conditions = match i % 3 {
                0 => json!({"age": {"max": 40}}),
                1 => json!({"sex": {"in": ["female"]}}),
                _ => json!({"annual_income": {"gt": 5000000}}),
            };
            let id: String = format!("{i:0>20}")
                .bytes()
                .map(|b| char::from(b'a' + (b - b'0')))
                .collect();
            serde_json::from_value(json!({
                "service_id": format!("svc_{id}"),
                "company_id": "c", "name": "s", "category": "c", "summary": "",
                "application_url": "https://x.example/", "inquiry_email": "a@x.example",
                "required_fields": [], "provision_items": [], "conditions": conditions,
                "criteria": [], "redirect_uris": [], "completion_url": "https://x.example/done",
                "created_at": "2026-11-27T00:00:00Z", "updated_at": "2026-11-27T00:00:00Z"
            }))
            .unwrap()
        })
        .collect()
}

/// N holders, each listing 1 to 5 services; every 50th certificate is revoked.
fn population(catalog: &[Service], n: u32) -> (Holders, Vec<Vec<u32>>) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ u64::from(n));
    let mut holders = Holders::default();
    let mut held: Vec<Vec<u32>> = Vec::with_capacity(n as usize);
    let mut by_service: Vec<RoaringBitmap> = vec![RoaringBitmap::new(); catalog.len()];
    for number in 0..n {
        let k = 1 + rng.below(5) as usize;
        let services: Vec<u32> = (0..k).map(|_| rng.below(SERVICES as u64) as u32).collect();
        for s in &services {
            by_service[*s as usize].insert(number);
        }
        if number % 50 != 0 {
            holders.valid.insert(number);
        }
        held.push(services);
    }
    for (service, bitmap) in catalog.iter().zip(by_service) {
        holders
            .by_service
            .insert(service.service_id.clone(), bitmap);
    }
    (holders, held)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let catalog = catalog();
    let normalised = Normalised::new(&catalog);
    let mut problems = Vec::new();
    let proposal = Constraint::of(
        &Conditions::parse(&json!({"age": {"max": 50}}), "c", &mut problems).unwrap(),
    );
    let today = time::macros::date!(2026 - 11 - 27);
    // Which services imply the proposal, as the naive method would know them too.
    let implies: Vec<bool> = catalog
        .iter()
        .map(|s| Constraint::of(&s.draft.conditions).implies(&proposal))
        .collect();

    println!("\nSimulation core: {SERVICES} services, holders in 1 to 5 each (median of 5)");
    println!(
        "{:>10} {:>10} {:>12} {:>12} {:>8}",
        "holders", "eligible", "core ms", "naive ms", "ratio"
    );
    let mut previous: Option<(f64, f64)> = None;
    for n in [10_000u32, 100_000, 1_000_000] {
        let (holders, held) = population(&catalog, n);
        let mut core_times = Vec::new();
        let mut eligible = 0;
        for _ in 0..5 {
            let started = Instant::now();
            eligible = count(&normalised, &holders, &[], &proposal, today).eligible;
            core_times.push(started.elapsed());
        }
        let mut naive_times = Vec::new();
        for _ in 0..5 {
            let started = Instant::now();
            let naive = held
                .iter()
                .enumerate()
                .filter(|(number, services)| {
                    holders.valid.contains(*number as u32)
                        && services.iter().any(|s| implies[*s as usize])
                })
                .count() as u64;
            naive_times.push(started.elapsed());
            assert_eq!(naive, eligible, "both methods count the same holders");
        }
        let core = median(core_times).as_secs_f64() * 1000.0;
        let naive = median(naive_times).as_secs_f64() * 1000.0;
        let growth = previous
            .map(|(c, v)| {
                format!(
                    "  (x{:.1} core, x{:.1} naive for 10x holders)",
                    core / c,
                    naive / v
                )
            })
            .unwrap_or_default();
        println!(
            "{n:>10} {eligible:>10} {core:>12.2} {naive:>12.2} {:>8.1}{growth}",
            naive / core
        );
        previous = Some((core, naive));
    }
    println!(
        "  (the naive method here is in memory too; through DynamoDB it would also read every holder of each matching service)"
    );
}
