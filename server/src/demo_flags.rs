//! Demo feature flags from the seeds' Phase 4 pipeline: the core features on everywhere, the
//! high-risk AATC system (dynamic tool and agent creation) on in staging and off in
//! production, Phase 4 at 100% in staging and ramping 0% → 100% over 7 days in production
//! (started three days ago), Alertmanager only in production; and, on shop and payments, a
//! partial rollout with allow and deny lists and a stepped canary ramp.

use app::logic::dora::DAY_MS;
use app::model::{Ramp, RampShape};
use app::store::deployments::Requester;
use app::store::flags::{self, SettingChange};
use app::store::{Db, StoreError};

/// What a flag gets in staging-like environments and in production.
struct DemoFlag {
    key: &'static str,
    description: &'static str,
    staging: Setting,
    production: Setting,
}

#[derive(Clone, Copy)]
enum Setting {
    Off,
    On,
    Share(f64, &'static [&'static str], &'static [&'static str]),
    /// From, to, days ago it started, days it lasts, steps (0: linear).
    Ramp(f64, f64, i64, i64, u32),
}

const SEEDED: &[DemoFlag] = &[
    DemoFlag { key: "orchestration", description: "ORCHESTRATION_ENABLED: the orchestration layer", staging: Setting::On, production: Setting::On },
    DemoFlag { key: "security-hardening", description: "SECURITY_HARDENING_ENABLED", staging: Setting::On, production: Setting::On },
    DemoFlag { key: "llm-integration", description: "LLM_INTEGRATION_ENABLED", staging: Setting::On, production: Setting::On },
    DemoFlag { key: "error-handling", description: "ERROR_HANDLING_ENABLED", staging: Setting::On, production: Setting::On },
    DemoFlag { key: "otel", description: "OTEL_ENABLED: OpenTelemetry traces", staging: Setting::On, production: Setting::On },
    DemoFlag { key: "performance-optimizations", description: "PERFORMANCE_OPTIMIZATIONS_ENABLED", staging: Setting::On, production: Setting::On },
    DemoFlag { key: "aatc-system", description: "AATC_SYSTEM_ENABLED: dynamic tool/agent creation; high risk, disabled in production for safety", staging: Setting::On, production: Setting::Off },
    DemoFlag { key: "phase-4-deployment", description: "PHASE_4_DEPLOYMENT: 0% at release, rising over 7 days in production", staging: Setting::On, production: Setting::Ramp(0.0, 1.0, 3, 7, 0) },
    DemoFlag { key: "alertmanager", description: "ALERTMANAGER_ENABLED: the full monitoring stack is required in production", staging: Setting::Off, production: Setting::On },
];

const SHOP: &[DemoFlag] = &[DemoFlag {
    key: "checkout-v2",
    description: "The one-page checkout",
    staging: Setting::On,
    production: Setting::Share(0.3, &["qa-team", "maya.lead"], &["tenant-acme"]),
}];

const PAYMENTS: &[DemoFlag] = &[DemoFlag {
    key: "ledger-writer-v2",
    description: "The new ledger writer, canaried in four steps",
    staging: Setting::On,
    production: Setting::Ramp(0.05, 1.0, 1, 4, 4),
}];

fn change(s: Setting, now: i64) -> SettingChange {
    let base = SettingChange {
        enabled: true,
        rollout: 1.0,
        ramp: None,
        allow: Vec::new(),
        deny: Vec::new(),
    };
    match s {
        Setting::Off => SettingChange {
            enabled: false,
            rollout: 0.0,
            ..base
        },
        Setting::On => base,
        Setting::Share(share, allow, deny) => SettingChange {
            rollout: share,
            allow: allow.iter().map(|k| k.to_string()).collect(),
            deny: deny.iter().map(|k| k.to_string()).collect(),
            ..base
        },
        Setting::Ramp(from, to, ago, days, steps) => {
            let hour = 3_600_000;
            let starts_at = (now - ago * DAY_MS) / hour * hour;
            SettingChange {
                rollout: from,
                ramp: Some(Ramp {
                    shape: if steps == 0 {
                        RampShape::Linear
                    } else {
                        RampShape::Steps(steps)
                    },
                    from,
                    to,
                    starts_at,
                    ends_at: starts_at + days * DAY_MS,
                }),
                ..base
            }
        }
    }
}

/// Returns how many flags it wrote (none for a project that already has flags).
pub async fn generate(db: &Db, projects: &[&str], now: i64) -> Result<usize, StoreError> {
    let lead = Requester {
        user_id: None,
        name: "lee.ops".into(),
        ip: None,
    };
    let mut written = 0;
    for (n, project) in projects.iter().enumerate() {
        let (existing, environments) = flags::list(db, project).await?;
        if !existing.is_empty() || environments.is_empty() {
            continue;
        }
        let extra = match *project {
            "shop" => SHOP,
            "payments" => PAYMENTS,
            _ => &[],
        };
        // The first project carries every seeded flag; the others the core few.
        let seeded = if n == 0 { SEEDED } else { &SEEDED[..3] };
        for f in seeded.iter().chain(extra) {
            let id = flags::create(db, project, f.key, f.description, &lead).await?;
            for env in &environments {
                let s = if env == "production" {
                    f.production
                } else {
                    f.staging
                };
                flags::set(db, id, env, &change(s, now), &lead).await?;
            }
            written += 1;
        }
    }
    Ok(written)
}
