//! Floating-point operations for throughput, by the rule of
//! `benches/shapes/README.md`: 2 per multiply-add of the op's direct
//! definition; a transposed conv counts `2*N*C*(K/groups)*kh*kw*H*W` (its
//! own input's H and W); a composite sums its steps; a deformable conv does
//! not count its bilinear sampling.
//!
//! This is not [`ProblemShape::multiply_adds`], which counts the exact
//! reference's fused terms (four bilinear corners per deformable tap, each
//! tap times each expert, the separable steps multiplied out).

use crate::problem_shape::ProblemShape;
use convoracle_reference::{ConvShape, OpGeometry};

/// The product of some sizes as f64 (exact up to 2^53, which no layer nears).
fn product(values: &[usize]) -> f64 {
    values.iter().map(|&v| v as f64).product()
}

/// Multiply-adds of a forward convolution: `N*K*Ho*Wo*(C/groups)*kh*kw`.
fn forward(g: &ConvShape) -> f64 {
    product(&[
        g.batch,
        g.out_channels,
        g.output[0],
        g.output[1],
        g.in_per_group(),
        g.kernel[0],
        g.kernel[1],
    ])
}

/// The floating-point operations of `shape` under the README's rule; 0 for
/// a problem that does not validate.
///
/// Per op (multiply-adds, each counted 2):
/// - conv2d, and both backward passes (whose geometry is the forward
///   conv's): `N*K*Ho*Wo*(C/groups)*kh*kw` of the forward conv;
/// - conv_transpose2d: `N*C*(K/groups)*kh*kw*H*W`;
/// - deform_conv2d: the conv's (the mask's one product per sample is part
///   of the sampling and is not counted either);
/// - dynamic_conv2d: the kernel aggregation `N*E*K*(C/groups)*kh*kw` plus
///   the conv;
/// - depthwise_separable2d, spatially_separable2d: the sum of the two steps;
/// - aspp: the 1x1 branch, each 3x3 dilated branch, the pooling branch (the
///   mean as `N*C*H*W` multiply-adds by 1/(H*W), then its 1x1 conv `N*B*C`)
///   and the projection `N*K*H*W*(B*branches)`.
///
/// ```
/// use convoracle::bench::{flops, parse_shapes};
/// let text = "name,op,n,c_in,h,w,c_out,kh,kw,stride_h,stride_w,pad_h,pad_w,dilation_h,dilation_w,groups,output_padding_h,output_padding_w\n\
///             resnet50.l1.3x3,conv2d,1,64,56,56,64,3,3,1,1,1,1,1,1,1,0,0\n";
/// let rows = parse_shapes(text.as_bytes(), "r.csv".as_ref()).unwrap();
/// assert_eq!(flops(&rows[0].shape), 2.0 * 64.0 * 56.0 * 56.0 * 64.0 * 9.0);
/// ```
pub fn flops(shape: &ProblemShape) -> f64 {
    let Ok(geometry) = shape.geometry() else {
        return 0.0;
    };
    let multiply_adds = match &geometry {
        OpGeometry::Conv2d(g)
        | OpGeometry::Conv2dBackwardInput(g)
        | OpGeometry::Conv2dBackwardWeight(g) => forward(g),
        OpGeometry::ConvTranspose2d(g) => product(&[
            g.batch,
            g.in_channels,
            g.out_per_group(),
            g.kernel[0],
            g.kernel[1],
            g.input[0],
            g.input[1],
        ]),
        OpGeometry::DeformConv2d(d) => forward(&d.conv),
        OpGeometry::DynamicConv2d(d) => {
            let g = &d.conv;
            let aggregate = product(&[
                g.batch,
                d.experts,
                g.out_channels,
                g.in_per_group(),
                g.kernel[0],
                g.kernel[1],
            ]);
            aggregate + forward(g)
        }
        OpGeometry::DepthwiseSeparable2d(d) => forward(&d.depthwise) + forward(&d.pointwise),
        OpGeometry::SpatiallySeparable2d(s) => forward(&s.vertical) + forward(&s.horizontal),
        OpGeometry::Aspp(a) => {
            let [h, w] = a.size;
            let (n, c, b) = (a.batch, a.in_channels, a.branch_channels);
            let one_by_one = product(&[n, b, h, w, c]);
            let dilated: f64 = a.rates.iter().map(|&r| forward(&a.dilated_branch(r))).sum();
            let pool = if a.pool {
                product(&[n, c, h, w]) + product(&[n, b, c])
            } else {
                0.0
            };
            let project = product(&[n, a.out_channels, h, w, b * a.branches()]);
            one_by_one + dilated + pool + project
        }
    };
    2.0 * multiply_adds
}
