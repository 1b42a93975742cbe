//! Simulation (seed 003 S61–S71): how many certificate holders proposed conditions would
//! reach, counted on an aggregate instead of on holders one by one.
//!
//! The aggregate gives every valid certificate a dense number and keeps, per service, the
//! numbers of the valid certificates listing it as a compressed bitmap (`roaring`). A holder
//! of a service is known to satisfy its conditions (joining checks them), so the holders
//! reached are the union of the bitmaps of the services whose conditions imply the proposal:
//! the work grows with the number of services and the bitmaps' compressed size, not with a
//! scan of holders. `by_profile` counts holders by their own attributes from a histogram of
//! profiles.

use std::collections::HashMap;

use roaring::RoaringBitmap;
use time::Date;

use super::algebra::{Attributes, Constraint};
use super::conditions::{Attribute, Bound, Conditions, Predicate, Range};
use super::service::Service;
use crate::ids::ServiceId;

/// The holders as the aggregate keeps them.
#[derive(Clone, Debug, Default)]
pub struct Holders {
    /// Per service: the numbers of the valid certificates listing it.
    pub by_service: HashMap<ServiceId, RoaringBitmap>,
    /// The numbers of all valid certificates.
    pub valid: RoaringBitmap,
}

/// One profile bucket of the histogram: attributes (birth date, not age: age depends on the
/// day) and how many valid holders have exactly them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileCount {
    pub sex: Option<super::member::Sex>,
    pub birth_date: Option<Date>,
    pub annual_income: Option<i64>,
    pub employer: Option<String>,
    pub count: u64,
}

/// The counts of one proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    pub eligible: u64,
    pub total: u64,
    pub by_profile: u64,
}

impl Counts {
    pub fn percentage(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            100.0 * self.eligible as f64 / self.total as f64
        }
    }
}

/// The catalog's services with their conditions normalised once per request.
pub struct Normalised<'a> {
    services: Vec<(&'a ServiceId, Constraint)>,
}

impl<'a> Normalised<'a> {
    pub fn new(catalog: &'a [Service]) -> Self {
        Self {
            services: catalog
                .iter()
                .map(|s| (&s.service_id, Constraint::of(&s.draft.conditions)))
                .collect(),
        }
    }
}

/// Counts `proposal` on the aggregate, on `today` (ages of the histogram's birth dates).
pub fn count(
    catalog: &Normalised<'_>,
    holders: &Holders,
    profiles: &[ProfileCount],
    proposal: &Constraint,
    today: Date,
) -> Counts {
    let mut reached = RoaringBitmap::new();
    for (service, conditions) in &catalog.services {
        if conditions.implies(proposal)
            && let Some(numbers) = holders.by_service.get(*service)
        {
            reached |= numbers;
        }
    }
    reached &= &holders.valid;
    let by_profile = profiles
        .iter()
        .filter(|p| {
            proposal.admits(&Attributes {
                sex: p.sex,
                age: p.birth_date.map(|born| super::algebra::age_on(born, today)),
                annual_income: p.annual_income,
                employer: p.employer.clone(),
            })
        })
        .map(|p| p.count)
        .sum();
    Counts {
        eligible: reached.len(),
        total: holders.valid.len(),
        by_profile,
    }
}

/// Which bound of the proposal's condition a sweep sets at each point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SweepBound {
    /// "attribute ≥ value" (the default).
    Min,
    /// "attribute ≤ value".
    Max,
}

/// A sweep (api.md): points `from`, `from + step`, … up to and including `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sweep {
    pub attribute: Attribute,
    pub from: i64,
    pub to: i64,
    pub step: i64,
    pub bound: SweepBound,
}

pub const MAX_SWEEP_POINTS: i64 = 200;

impl Sweep {
    /// The points, or `None` when the sweep is not one api.md allows (a non-numeric attribute,
    /// a non-positive step, `to` before `from`, more than 200 points).
    pub fn points(&self) -> Option<Vec<i64>> {
        if !self.attribute.is_numeric() || self.step <= 0 || self.to < self.from {
            return None;
        }
        let count = (self.to - self.from) / self.step + 1;
        if count > MAX_SWEEP_POINTS {
            return None;
        }
        Some((0..count).map(|i| self.from + i * self.step).collect())
    }

    /// The proposal at one point: the attribute's bound set to `value`, the rest unchanged.
    pub fn at(&self, proposal: &Conditions, value: i64) -> Conditions {
        let mut conditions = proposal.clone();
        let mut range = match conditions.0.get(&self.attribute) {
            Some(Predicate::Range(range)) => *range,
            _ => Range::default(),
        };
        let bound = Some(Bound {
            value,
            inclusive: true,
        });
        match self.bound {
            SweepBound::Min => range.lower = bound,
            SweepBound::Max => range.upper = bound,
        }
        conditions.0.insert(self.attribute, Predicate::Range(range));
        conditions
    }
}

/// A count a provider may see: below `minimum` it is withheld (`None`), so narrow conditions
/// cannot single out a person. The operator sees every count (`minimum` 0).
pub fn disclosed(count: u64, minimum: u64) -> Option<u64> {
    (count >= minimum).then_some(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::member::Sex;
    use serde_json::json;
    use time::macros::date;

    fn service(n: u8, conditions: serde_json::Value) -> Service {
        serde_json::from_value(json!({
            "service_id": format!("svc_{:a<20}", char::from(b'b' + n)),
            "company_id": "c", "name": "s", "category": "c", "summary": "",
            "application_url": "https://x.example/", "inquiry_email": "a@x.example",
            "required_fields": [], "provision_items": [], "conditions": conditions,
            "criteria": [], "redirect_uris": [], "completion_url": "https://x.example/done",
            "created_at": "2026-11-27T00:00:00Z", "updated_at": "2026-11-27T00:00:00Z"
        }))
        .unwrap()
    }

    fn constraint(value: serde_json::Value) -> Constraint {
        let mut problems = Vec::new();
        Constraint::of(&Conditions::parse(&value, "c", &mut problems).unwrap())
    }

    #[test]
    fn holders_of_several_matching_services_count_once_and_revoked_ones_not_at_all() {
        let catalog = vec![
            service(1, json!({"sex": {"in": ["female"]}, "age": {"max": 40}})),
            service(2, json!({"sex": {"in": ["female"]}, "age": {"max": 30}})),
            service(3, json!({"age": {"max": 40}})),
        ];
        let mut holders = Holders::default();
        let bitmap = |n: &[u32]| n.iter().copied().collect::<RoaringBitmap>();
        holders
            .by_service
            .insert(catalog[0].service_id.clone(), bitmap(&[1, 2, 3]));
        holders
            .by_service
            .insert(catalog[1].service_id.clone(), bitmap(&[3, 4]));
        holders
            .by_service
            .insert(catalog[2].service_id.clone(), bitmap(&[5, 6]));
        // 4 was revoked: no longer valid.
        holders.valid = bitmap(&[1, 2, 3, 5, 6, 7]);
        let profiles = vec![
            ProfileCount {
                sex: Some(Sex::Female),
                birth_date: Some(date!(1990 - 01 - 01)),
                annual_income: None,
                employer: None,
                count: 3,
            },
            ProfileCount {
                sex: None,
                birth_date: Some(date!(1990 - 01 - 01)),
                annual_income: None,
                employer: None,
                count: 2,
            },
        ];
        let normalised = Normalised::new(&catalog);
        let proposal = constraint(json!({"sex": {"in": ["female"]}, "age": {"max": 45}}));
        let counts = count(
            &normalised,
            &holders,
            &profiles,
            &proposal,
            date!(2026 - 11 - 27),
        );
        // Services 1 and 2 imply the proposal; 3 does not (sex unsettled).
        assert_eq!(
            counts,
            Counts {
                eligible: 3,
                total: 6,
                by_profile: 3
            }
        );
        assert!((counts.percentage() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn sweeps_set_one_bound_per_point() {
        let sweep = Sweep {
            attribute: Attribute::Age,
            from: 20,
            to: 40,
            step: 10,
            bound: SweepBound::Min,
        };
        assert_eq!(sweep.points(), Some(vec![20, 30, 40]));
        let mut problems = Vec::new();
        let proposal = Conditions::parse(
            &json!({"age": {"max": 50}, "sex": {"in": ["female"]}}),
            "c",
            &mut problems,
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(sweep.at(&proposal, 30)).unwrap(),
            json!({"age": {"min": 30, "max": 50}, "sex": {"in": ["female"]}})
        );
        let too_many = Sweep {
            step: 1,
            from: 0,
            to: 200,
            ..sweep.clone()
        };
        assert_eq!(too_many.points(), None);
        let backwards = Sweep {
            from: 40,
            to: 20,
            ..sweep.clone()
        };
        assert_eq!(backwards.points(), None);
        let categorical = Sweep {
            attribute: Attribute::Sex,
            ..sweep
        };
        assert_eq!(categorical.points(), None);
        assert_eq!(disclosed(9, 10), None);
        assert_eq!(disclosed(10, 10), Some(10));
        assert_eq!(disclosed(0, 0), Some(0));
    }
}
