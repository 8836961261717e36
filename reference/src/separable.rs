//! Separable composites, computed exactly end to end: the intermediate
//! tensor is never rounded. Each output is expanded into one exact sum of
//! products of the original values (up to three factors per term).
//!
//! depthwise_separable2d, with q = c*m + r the depthwise channels
//! (q reads input channel c = q / m):
//!     out[n, k, oy, ox] = pb[k] + sum_q pw[k, q] * (db[q]
//!         + sum_{i, j} dw[q, 0, i, j] * x_padded[n, q/m, oy*sh - pt + i*dh, ox*sw - pl + j*dw])
//!
//! spatially_separable2d, with v the vertical step's output (width W):
//!     v[n, m, oy, x] = vb[m] + sum_{c, i} vw[m, c, i, 0] * x_padded[n, c, oy*sh - pt + i*dh, x]
//!     out[n, k, oy, ox] = hb[k] + sum_{m, j} hw[k, m, 0, j] * v_padded[n, m, oy, ox*sw - pl + j*dw]
//! where v_padded is zero outside columns 0..W (so a padded column carries
//! no vertical bias).
//!
//! Padding is zeros; a tap that reads padding still adds its (zero) product,
//! as conv2d does, so an infinite weight times padding gives NaN exactly as
//! the composition of two conv2d's would.

use crate::spec::geometry::tap_coordinate;
use crate::spec::shapes::{depthwise_separable2d_geometry, spatially_separable2d_geometry};
use crate::{
    padded_value, DepthwiseSeparable2dParams, Element, ExactSum, Output, PaddingMode, Problem,
    Result, Role, SpatiallySeparable2dParams,
};

pub(crate) fn depthwise<T: Element>(
    p: &DepthwiseSeparable2dParams,
    problem: &Problem<T>,
    out: &mut Output<T>,
) -> Result<()> {
    let shapes = |r: Role| problem.shape_of(r);
    let shape = depthwise_separable2d_geometry(p, &shapes)?;
    let resolved = shape.depthwise;
    let (batch, channels, kernels) = (
        resolved.batch,
        resolved.in_channels,
        shape.pointwise.out_channels,
    );
    let multiplier = shape.multiplier();
    let input = problem.tensor(Role::Input)?;
    let dw = problem.tensor(Role::DepthwiseWeight)?;
    let pw = problem.tensor(Role::PointwiseWeight)?;
    let db = problem.optional(Role::DepthwiseBias);
    let pb = problem.optional(Role::PointwiseBias);
    let [kh, kw] = [dw.shape()[2], dw.shape()[3]];
    let g = &p.geometry;
    let (pt, pl) = (resolved.padding.top, resolved.padding.left);
    let [out_h, out_w] = resolved.output;
    let depthwise_channels = channels * multiplier;

    let mut sum = ExactSum::new();
    for n in 0..batch {
        for k in 0..kernels {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    sum.clear();
                    for q in 0..depthwise_channels {
                        let c = q / multiplier;
                        let pointwise = pw.at4(k, q, 0, 0).to_f64();
                        for i in 0..kh {
                            for j in 0..kw {
                                let y = tap_coordinate(oy, g.stride[0], pt, i, g.dilation[0]);
                                let x = tap_coordinate(ox, g.stride[1], pl, j, g.dilation[1]);
                                let value = padded_value(input, n, c, y, x, PaddingMode::Zeros);
                                sum.add_product(&[pointwise, dw.at4(q, 0, i, j).to_f64(), value]);
                            }
                        }
                        if let Some(db) = db {
                            sum.add_product(&[pointwise, db.data()[q].to_f64()]);
                        }
                    }
                    if let Some(pb) = pb {
                        sum.add(pb.data()[k].to_f64());
                    }
                    out.store(&[n, k, oy, ox], &sum);
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn spatial<T: Element>(
    p: &SpatiallySeparable2dParams,
    problem: &Problem<T>,
    out: &mut Output<T>,
) -> Result<()> {
    let shapes = |r: Role| problem.shape_of(r);
    let shape = spatially_separable2d_geometry(p, &shapes)?;
    let (batch, channels) = (shape.vertical.batch, shape.vertical.in_channels);
    let (mids, kernels) = (shape.vertical.out_channels, shape.horizontal.out_channels);
    let (pt, pl) = (shape.vertical.padding.top, shape.horizontal.padding.left);
    let [out_h, out_w] = shape.horizontal.output;
    let input = problem.tensor(Role::Input)?;
    let vw = problem.tensor(Role::VerticalWeight)?;
    let hw = problem.tensor(Role::HorizontalWeight)?;
    let vb = problem.optional(Role::VerticalBias);
    let hb = problem.optional(Role::HorizontalBias);
    let in_w = input.shape()[3];
    let [kh, kw] = [vw.shape()[2], hw.shape()[3]];
    let g = &p.geometry;

    let mut sum = ExactSum::new();
    for n in 0..batch {
        for k in 0..kernels {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    sum.clear();
                    for m in 0..mids {
                        for j in 0..kw {
                            let horizontal = hw.at4(k, m, 0, j).to_f64();
                            let x = tap_coordinate(ox, g.stride[1], pl, j, g.dilation[1]);
                            // The horizontal step pads the vertical step's
                            // output with zeros: one zero term, no bias.
                            let Some(col) = PaddingMode::Zeros.source(x, in_w) else {
                                sum.add_product(&[horizontal, 0.0]);
                                continue;
                            };
                            for c in 0..channels {
                                for i in 0..kh {
                                    let y = tap_coordinate(oy, g.stride[0], pt, i, g.dilation[0]);
                                    let value = padded_value(
                                        input,
                                        n,
                                        c,
                                        y,
                                        col as i64,
                                        PaddingMode::Zeros,
                                    );
                                    sum.add_product(&[
                                        horizontal,
                                        vw.at4(m, c, i, 0).to_f64(),
                                        value,
                                    ]);
                                }
                            }
                            if let Some(vb) = vb {
                                sum.add_product(&[horizontal, vb.data()[m].to_f64()]);
                            }
                        }
                    }
                    if let Some(hb) = hb {
                        sum.add(hb.data()[k].to_f64());
                    }
                    out.store(&[n, k, oy, ox], &sum);
                }
            }
        }
    }
    Ok(())
}
