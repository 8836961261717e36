//! Tests of the generators: every draw is valid, the edges are reached, and
//! the larger profiles stay within their budgets.

use super::*;
use convoracle_reference::Op;
use proptest::test_runner::{Config, TestRunner};

#[test]
fn every_generated_spec_is_valid() {
    for op in OpKind::ALL {
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            fork: false,
            timeout: 0,
            ..Config::default()
        });
        let result = runner.run(&spec_strategy(op), |spec| {
            let out = spec.output_shape();
            prop_assert!(out.is_ok(), "{:?}: {}", spec, out.unwrap_err());
            prop_assert_eq!(spec.kind(), op);
            Ok(())
        });
        assert!(result.is_ok(), "{op:?}: {result:?}");
    }
}

#[test]
fn generators_reach_the_edges() {
    // Over many draws, the conv2d generator must produce every padding
    // word, every mode, flip, groups > 1 and the empty batch.
    let mut runner = TestRunner::deterministic();
    let strategy = spec_strategy(OpKind::Conv2d);
    let (mut words, mut modes, mut flip, mut grouped, mut empty) =
        (Vec::new(), Vec::new(), false, false, false);
    for _ in 0..400 {
        let spec = strategy.new_tree(&mut runner).unwrap().current();
        if let Op::Conv2d(p) = &spec.op {
            words.push(std::mem::discriminant(&p.geometry.padding));
            modes.push(p.padding_mode);
            flip |= p.flip_kernel;
            grouped |= p.geometry.groups > 1;
        }
        empty |= spec.shapes.values().next().is_some_and(|s| s[0] == 0);
    }
    words.sort_by_key(|d| format!("{d:?}"));
    words.dedup();
    modes.sort_by_key(|m| m.name());
    modes.dedup();
    assert_eq!(words.len(), 4, "padding kinds seen: {}", words.len());
    assert_eq!(modes.len(), 4, "modes seen: {modes:?}");
    assert!(
        flip && grouped && empty,
        "flip {flip} grouped {grouped} empty {empty}"
    );
}

#[test]
fn larger_profiles_reach_blocking_edges_within_their_budget() {
    for profile in [SizeProfile::Medium, SizeProfile::Large] {
        let limits = profile.limits();
        let mut runner = TestRunner::deterministic();
        let (mut channels, mut image, mut kernel) = (0, 0, 0);
        for op in OpKind::ALL {
            let strategy = sized_spec_strategy(op, profile);
            for _ in 0..24 {
                let spec = strategy.new_tree(&mut runner).unwrap().current();
                assert!(spec.output_shape().is_ok(), "{spec:?}");
                let cost = spec.multiply_adds().unwrap();
                assert!(cost <= limits.budget, "{cost} over {}", limits.budget);
                if let Ok(geometry) = spec.geometry() {
                    if let Some(g) = geometry.conv() {
                        channels = channels.max(g.in_channels.max(g.out_channels));
                        image = image.max(g.input[0].max(g.input[1]));
                        kernel = kernel.max(g.kernel[0].max(g.kernel[1]));
                    }
                }
            }
        }
        // Past a 12-row microkernel tile, a 32-column one, and 3x3 kernels.
        assert!(channels > 12, "{profile:?}: channels {channels}");
        assert!(image > 32, "{profile:?}: image {image}");
        assert!(kernel > 3, "{profile:?}: kernel {kernel}");
    }
}
