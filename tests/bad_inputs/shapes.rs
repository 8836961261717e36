//! Tensors whose shapes do not fit the op or each other: wrong rank, wrong
//! channel counts, optional tensors of the wrong length, derived tensors
//! (offset, mask, attention, grad_output, expected output) that disagree
//! with the geometry.

use super::harness::*;
use std::path::Path;

/// The valid conv2d case with one tensor replaced.
fn conv_with_tensor(role: &'static str, shape: &'static [usize]) -> impl FnOnce(&Path) {
    move |dir: &Path| {
        conv2d_case(dir);
        tensor(dir, role, shape);
    }
}

/// A case of `op` (with `extra` case.json members) and these tensors.
fn case(
    op: &'static str,
    extra: &'static str,
    tensors: &'static [(&'static str, &'static [usize])],
) -> impl FnOnce(&Path) {
    move |dir: &Path| {
        json(
            dir,
            &format!(r#"{{"op": "{op}", "dtype": "float32"{extra}}}"#),
        );
        for (role, shape) in tensors {
            tensor(dir, role, shape);
        }
    }
}

#[test]
fn conv2d_shapes() {
    check_all(vec![
        bad(
            "input-rank-3",
            conv_with_tensor("input", &[2, 5, 5]),
            &["input.npy", "expected 4 dimensions, got shape [2, 5, 5]"],
        ),
        bad(
            "input-rank-0",
            conv_with_tensor("input", &[]),
            &["input.npy", "expected 4 dimensions"],
        ),
        bad(
            "weight-rank-5",
            conv_with_tensor("weight", &[3, 2, 3, 3, 1]),
            &["weight.npy", "expected 4 dimensions"],
        ),
        bad(
            "weight-channels",
            conv_with_tensor("weight", &[3, 4, 3, 3]),
            &["weight.npy", "dim 1 must be input channels / groups"],
        ),
        bad(
            "kernel-larger-than-input",
            conv_with_tensor("weight", &[3, 2, 9, 9]),
            &["case.json", "`padding`", "larger than the padded input"],
        ),
        bad(
            "kernel-size-zero",
            conv_with_tensor("weight", &[3, 2, 0, 3]),
            &["weight.npy", "kernel size is 0"],
        ),
        bad(
            "input-spatial-zero",
            conv_with_tensor("input", &[1, 2, 0, 5]),
            &["input.npy", "spatial size is 0"],
        ),
        bad(
            "bias-length",
            conv_with_tensor("bias", &[4]),
            &["bias.npy", "one value per output channel", "[3]"],
        ),
        bad(
            "bias-rank-2",
            conv_with_tensor("bias", &[3, 1]),
            &["bias.npy", "expected shape [3]"],
        ),
        bad(
            "expected-output-shape",
            conv_with_tensor("output", &[1, 3, 4, 4]),
            &[
                "output.npy",
                "does not match the op's output shape [1, 3, 5, 5]",
            ],
        ),
        bad(
            "expected-output-dtype",
            |dir: &Path| {
                conv2d_case(dir);
                let mut b = header("<f8", &[1, 3, 5, 5], false);
                b.resize(b.len() + 75 * 8, 0);
                raw(dir, "output.npy", &b);
            },
            &["output.npy", "found float64"],
        ),
    ]);
}

#[test]
fn shapes_of_the_other_ops() {
    check_all(vec![
        bad(
            "transposed-weight-layout",
            case(
                "conv_transpose2d",
                "",
                &[("input", &[1, 2, 4, 4]), ("weight", &[3, 2, 3, 3])],
            ),
            &["weight.npy", "dim 0 must be the input channels (2)"],
        ),
        bad(
            "deform-offset-shape",
            case(
                "deform_conv2d",
                "",
                &[
                    ("input", &[1, 2, 5, 5]),
                    ("weight", &[3, 2, 3, 3]),
                    ("offset", &[1, 17, 3, 3]),
                ],
            ),
            &["offset.npy", "multiple of 18"],
        ),
        bad(
            "deform-offset-groups",
            case(
                "deform_conv2d",
                "",
                &[
                    ("input", &[1, 2, 5, 5]),
                    ("weight", &[3, 2, 3, 3]),
                    ("offset", &[1, 54, 3, 3]),
                ],
            ),
            &[
                "offset.npy",
                "3 offset groups (from dim 1) do not divide the 2 input channels",
            ],
        ),
        bad(
            "deform-mask-shape",
            case(
                "deform_conv2d",
                "",
                &[
                    ("input", &[1, 2, 5, 5]),
                    ("weight", &[3, 2, 3, 3]),
                    ("offset", &[1, 18, 3, 3]),
                    ("mask", &[1, 9, 3, 4]),
                ],
            ),
            &["mask.npy", "[N, G*kh*kw, Ho, Wo]"],
        ),
        bad(
            "dynamic-attention-shape",
            case(
                "dynamic_conv2d",
                "",
                &[
                    ("input", &[2, 2, 5, 5]),
                    ("weight", &[4, 3, 2, 3, 3]),
                    ("attention", &[2, 3]),
                ],
            ),
            &["attention.npy", "expected shape [2, 4]"],
        ),
        bad(
            "dynamic-weight-rank",
            case(
                "dynamic_conv2d",
                "",
                &[
                    ("input", &[2, 2, 5, 5]),
                    ("weight", &[3, 2, 3, 3]),
                    ("attention", &[2, 3]),
                ],
            ),
            &["weight.npy", "expected 5 dimensions"],
        ),
        bad(
            "depthwise-weight-shape",
            case(
                "depthwise_separable2d",
                "",
                &[
                    ("input", &[1, 2, 5, 5]),
                    ("depthwise_weight", &[3, 1, 3, 3]),
                    ("pointwise_weight", &[4, 3, 1, 1]),
                ],
            ),
            &["depthwise_weight.npy", "[C*m, 1, kh, kw] with C = 2"],
        ),
        bad(
            "spatial-horizontal-shape",
            case(
                "spatially_separable2d",
                "",
                &[
                    ("input", &[1, 2, 5, 5]),
                    ("vertical_weight", &[3, 2, 3, 1]),
                    ("horizontal_weight", &[4, 3, 3, 1]),
                ],
            ),
            &["horizontal_weight.npy", "[K, M, 1, kw]"],
        ),
        bad(
            "aspp-dilated-count",
            case(
                "aspp",
                r#", "rates": [1, 2]"#,
                &[
                    ("input", &[1, 2, 5, 5]),
                    ("weight_1x1", &[3, 2, 1, 1]),
                    ("weight_dilated", &[3, 3, 2, 3, 3]),
                    ("weight_project", &[4, 9, 1, 1]),
                ],
            ),
            &["weight_dilated.npy", "[R = number of rates, B, C, 3, 3]"],
        ),
        bad(
            "aspp-project-channels",
            case(
                "aspp",
                r#", "rates": [1, 2]"#,
                &[
                    ("input", &[1, 2, 5, 5]),
                    ("weight_1x1", &[3, 2, 1, 1]),
                    ("weight_dilated", &[2, 3, 2, 3, 3]),
                    ("weight_pool", &[3, 2, 1, 1]),
                    ("weight_project", &[4, 9, 1, 1]),
                ],
            ),
            &["weight_project.npy", "[4, 12, 1, 1]"],
        ),
        bad(
            "backward-input-grad-shape",
            case(
                "conv2d_backward_input",
                r#", "input_size": [5, 5]"#,
                &[("grad_output", &[1, 3, 4, 4]), ("weight", &[3, 2, 3, 3])],
            ),
            &["grad_output.npy", "expected shape [1, 3, 3, 3]"],
        ),
        bad(
            "backward-weight-grad-batch",
            case(
                "conv2d_backward_weight",
                r#", "kernel_size": [3, 3]"#,
                &[("input", &[2, 2, 5, 5]), ("grad_output", &[1, 3, 3, 3])],
            ),
            &["grad_output.npy", "expected shape [2, 3, 3, 3]"],
        ),
    ]);
}
