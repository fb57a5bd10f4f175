//! Seeded random runs of the supervisor against a fake cluster, checking after every event
//! the invariants the other tests rely on: no deadline left behind, no slot left empty while
//! running, at most one worker coming per slot, commands only about workers that exist, and
//! never more than 2 x the slots, with scale requests and SIGTTIN/SIGTTOU thrown in.

use std::collections::BTreeSet;

use super::harness::*;
use master_process::core::{
    Command, Event, Limits, NewVersion, NodeCommand, Phase, Policy, ReadyOn, RetireStage, Sample,
    SampleResult, ScaleTo, Signal, Swap, WorkerMessage,
};

/// xorshift64*: small, deterministic, good enough to pick events.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.below(items.len() as u64) as usize])
    }
}

fn random_policy(rng: &mut Rng) -> Policy {
    let workers = 1 + rng.below(4) as u32;
    Policy {
        workers,
        kill_timeout: ms(500 + rng.below(5000)),
        throttle: ms([0, 1000][rng.below(2) as usize]),
        max_throttle: secs(8),
        max_crashes: [0, 3, 10][rng.below(3) as usize],
        reload_batch: rng.below(workers as u64 + 1) as u32,
        swap: [Swap::Slot, Swap::Batch][rng.below(2) as usize],
        new_version: [NewVersion::Upgrade, NewVersion::Exit][rng.below(2) as usize],
        ready_on: [ReadyOn::Listening, ReadyOn::Message][rng.below(2) as usize],
        ready_timeout: secs(3 + rng.below(20)),
        heartbeat_timeout: [None, Some(secs(2)), Some(secs(9))][rng.below(3) as usize],
        shutdown_delay: [ms(0), secs(3)][rng.below(2) as usize],
        drain: rng.below(2) == 0,
        persist_compile_cache: rng.below(2) == 0,
        unix_socket: rng.below(2) == 0,
        limits: Limits {
            max_memory_bytes: 100 * MB,
            mem_failures: 1 + rng.below(3) as u32,
            max_cpu_percent: 90.0,
            cpu_failures: 1 + rng.below(3) as u32,
            interval: secs(2),
            warmup: secs(5),
        },
    }
}

fn random_event(rng: &mut Rng, h: &Harness) -> Option<Event> {
    let workers: Vec<_> = h.sup.workers().cloned().collect();
    let all: Vec<u32> = workers.iter().map(|w| w.id).collect();
    let without_pid: Vec<u32> = workers
        .iter()
        .filter(|w| w.pid.is_none())
        .map(|w| w.id)
        .collect();
    let with_pid: Vec<u32> = workers
        .iter()
        .filter(|w| w.pid.is_some())
        .map(|w| w.id)
        .collect();
    let in_stage = |stage: RetireStage| -> Vec<u32> {
        workers
            .iter()
            .filter(|w| matches!(w.phase, Phase::Retiring(r) if r.stage == stage))
            .map(|w| w.id)
            .collect()
    };
    let signalled: Vec<u32> = [RetireStage::Terminating, RetireStage::Killed]
        .into_iter()
        .flat_map(in_stage)
        .collect();
    let event = match rng.below(100) {
        0..=14 => Event::Forked {
            id: rng.pick(&without_pid)?,
            pid: 0,
        },
        15..=29 => Event::Listening {
            id: rng.pick(&with_pid)?,
            socket: rng.below(2) == 0,
        },
        30..=34 => Event::Message {
            id: rng.pick(&all)?,
            message: WorkerMessage::Ready,
        },
        35..=42 => Event::Drained {
            id: rng.pick(&in_stage(RetireStage::Draining))?,
        },
        43..=50 => Event::Settled {
            id: rng.pick(&in_stage(RetireStage::Settling))?,
        },
        51..=60 => Event::Exited {
            id: rng.pick(&signalled)?,
            code: None,
            signal: Some("SIGTERM".into()),
        },
        61..=65 => Event::Exited {
            id: rng.pick(&all)?,
            code: Some(1),
            signal: None,
        },
        66..=71 => Event::Signal(Signal::Hup),
        72..=73 => Event::Signal(Signal::Usr2),
        74..=75 => Event::Message {
            id: rng.pick(&all)?,
            message: [
                WorkerMessage::PauseMonitoring,
                WorkerMessage::ResumeMonitoring,
            ][rng.below(2) as usize]
                .clone(),
        },
        76..=82 => {
            let samples = with_pid
                .iter()
                .map(|&id| Sample {
                    id,
                    result: match rng.below(20) {
                        0 => SampleResult::Unreadable,
                        1 => SampleResult::Exited,
                        _ => SampleResult::Read(
                            reading(rng.below(130), rng.below(100) as f64).expect("a reading"),
                        ),
                    },
                })
                .collect();
            Event::Samples(samples)
        }
        83 if rng.below(4) == 0 => Event::Signal(Signal::Term),
        85..=86 => Event::Probed {
            id: rng.pick(&in_stage(RetireStage::Probing))?,
            exited: rng.below(2) == 0,
        },
        // A fork confirmed after the core gave the worker up: ids past the last one are
        // never known, so the core must kill it.
        87 if rng.below(4) == 0 => Event::Forked {
            id: 10_000 + rng.below(1000) as u32,
            pid: 0,
        },
        84 if rng.below(8) == 0 => Event::PackageChanged {
            id: rng.pick(&without_pid)?,
            version: "9.9.9".into(),
        },
        88..=89 => Event::Scale(ScaleTo::Count(rng.below(7) as u32)),
        90 => Event::Signal(Signal::Ttin),
        91 => Event::Signal(Signal::Ttou),
        92 => [Event::PauseRequested, Event::ResumeRequested][rng.below(2) as usize].clone(),
        93..=95 => Event::Alive {
            id: rng.pick(&with_pid)?,
        },
        96 => Event::UpgradeRequested,
        97 => Event::UpgradeChecked {
            error: (rng.below(2) == 0).then(|| "broken".to_string()),
        },
        98 if rng.below(4) == 0 => Event::ExecFailed {
            error: "ENOENT".into(),
        },
        _ => Event::Tick,
    };
    Some(event)
}

fn check(h: &Harness, before: &BTreeSet<u32>, out: &[Command], seed: u64) {
    let sup = &h.sup;
    let after: BTreeSet<u32> = h.ids().into_iter().collect();
    let known: BTreeSet<u32> = before.union(&after).copied().collect();
    for command in out {
        match command {
            Command::Node(NodeCommand::Fork { id, slot, .. }) => {
                // A fork in a slot a scale down takes away in the same event (a crash restart
                // just before the scale started) is retired at once.
                let kept = *slot < sup.slot_count();
                let retired = !after.contains(id) || h.worker(*id).is_retiring();
                assert!(kept || retired, "seed {seed}: {command:?}");
                assert!(!before.contains(id), "seed {seed}: id reused {command:?}");
            }
            Command::Node(NodeCommand::Drain { id } | NodeCommand::Settle { id }) => {
                assert!(h.worker(*id).is_retiring(), "seed {seed}: {command:?}");
            }
            Command::Node(NodeCommand::Send { id, .. }) => {
                assert!(after.contains(id), "seed {seed}: {command:?}")
            }
            Command::Node(NodeCommand::PersistCompileCache { id }) => {
                assert!(sup.policy().persist_compile_cache, "seed {seed}");
                let worker = h.worker(*id);
                assert!(
                    worker.is_ready() && !worker.is_retiring(),
                    "seed {seed}: {command:?} {worker:?}"
                );
            }
            Command::Signal { id, pid: p, .. } | Command::Probe { id, pid: p } => {
                assert_eq!(*p, pid(*id), "seed {seed}: {command:?}");
                let stray = *id >= 10_000;
                assert!(known.contains(id) || stray, "seed {seed}: {command:?}");
            }
            Command::Sample { targets } => {
                assert!(
                    targets.iter().all(|(id, _)| after.contains(id)),
                    "seed {seed}"
                )
            }
            Command::Node(NodeCommand::Exit { .. }) => {
                assert!(after.is_empty(), "seed {seed}: exit with workers")
            }
            _ => {}
        }
    }
    // Reloads wait for retirements, replacements and scales, replacements wait for reloads
    // and retirements, scales wait for reloads (reload.rs, monitor.rs, scale.rs), and a slot
    // taken away counts until it is empty: never more than 2 x the slots at once.
    assert!(
        h.live() <= 2 * sup.slots().len().max(1),
        "seed {seed}: {} workers for {} slots",
        h.live(),
        sup.slots().len()
    );
    if sup.is_stopping() || !sup.has_started() {
        return;
    }
    for (index, slot) in sup.slots().iter().enumerate() {
        let index = index as u32;
        if index >= sup.slot_count() {
            // Taken away by a scale down: only retiring workers are left in it.
            assert!(
                sup.workers().all(|w| w.slot != index || w.is_retiring()),
                "seed {seed}: removed slot {index} has a live worker"
            );
            assert_eq!(slot.restart_at, None, "seed {seed}: removed slot {index}");
            continue;
        }
        let fresh: Vec<_> = sup
            .workers()
            .filter(|w| w.slot == index && !w.is_retiring())
            .collect();
        assert!(fresh.len() <= 2, "seed {seed}: slot {index} has {fresh:?}");
        assert!(
            !fresh.is_empty() || slot.restart_at.is_some(),
            "seed {seed}: slot {index} is empty for good: {slot:?}"
        );
        for id in slot.serving.iter().chain(&slot.incoming) {
            let w = h.worker(*id);
            assert!(
                w.slot == index && !w.is_retiring(),
                "seed {seed}: slot {index}: {w:?}"
            );
        }
    }
}

#[test]
fn random_runs_keep_the_invariants() {
    for seed in 1..=400u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let policy = random_policy(&mut rng);
        let mut h = Harness::new(policy);
        h.start();
        for _ in 0..400 {
            if h.sup.has_exited() {
                break;
            }
            match rng.below(10) {
                0..=1 if h.sup.poll_timeout().is_some() => {
                    let before: BTreeSet<u32> = h.ids().into_iter().collect();
                    let out = h.fire();
                    check(&h, &before, &out, seed);
                    continue;
                }
                2..=3 => h.advance(ms(rng.below(1500))),
                _ => {}
            }
            let Some(mut event) = random_event(&mut rng, &h) else {
                continue;
            };
            if let Event::Forked { id, pid: p } = &mut event {
                *p = pid(*id);
            }
            let before: BTreeSet<u32> = h.ids().into_iter().collect();
            let out = h.handle(event);
            check(&h, &before, &out, seed);
        }
    }
}
