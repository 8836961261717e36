//! `aspp`: DeepLab v3's atrous spatial pyramid pooling without normalisation
//! or activation, computed exactly end to end (no branch output is rounded).
//!
//! With B channels per branch, R rates and P = 1 when `weight_pool` is given,
//! the concatenation has B*(R+1+P) channels, branch `br` at channels
//! br*B .. br*B + B, in the order: the 1x1 branch, each rate in order, the
//! pooling branch. For output (n, k, y, x), with wp = weight_project:
//!
//! out = sum_b wp[k, b] * sum_c w1x1[b, c] * x[n, c, y, x]
//!     + sum_r sum_b wp[k, (1+r)*B + b] * sum_{c, i, j} wd[r, b, c, i, j]
//!           * x_padded[n, c, y + (i-1)*rate_r, x + (j-1)*rate_r]
//!     + sum_b wp[k, (R+1)*B + b] * sum_c wpool[b, c] * mean_{y', x'} x[n, c, y', x']
//!
//! (3x3 branches: padding = dilation = rate, stride 1, zeros.) The mean
//! divides by H*W, so the value is (H*W * S1 + S2) / (H*W) with S1 the
//! exact sum of the non-pool terms and S2 that of the pool terms summed over
//! every position; it is rounded once by an exact division. The magnitude is
//! the sum of |term| with the pool terms divided by H*W.

use crate::spec::shapes::aspp_geometry;
use crate::{AsppParams, Element, Error, ExactSum, Output, Problem, Result, Role, Tensor};

/// Largest H*W for which the factor H*W is an exact f64.
const MAX_EXACT_AREA: usize = 1 << 53;

pub(crate) fn compute<T: Element>(
    p: &AsppParams,
    problem: &Problem<T>,
    out: &mut Output<T>,
) -> Result<()> {
    let shapes = |r: Role| problem.shape_of(r);
    let shape = aspp_geometry(p, &shapes)?;
    let (batch, channels, branch, kernels) = (
        shape.batch,
        shape.in_channels,
        shape.branch_channels,
        shape.out_channels,
    );
    let [height, width] = shape.size;
    let has_pool = shape.pool;
    let input = problem.tensor(Role::Input)?;
    let w1x1 = problem.tensor(Role::Weight1x1)?;
    let wd = problem.tensor(Role::WeightDilated)?;
    let wpool = problem.optional(Role::WeightPool);
    let wp = problem.tensor(Role::WeightProject)?;
    let area = height
        .checked_mul(width)
        .filter(|&a| a < MAX_EXACT_AREA)
        .ok_or_else(|| {
            Error::shape(
                "input",
                format!("H*W = {height}*{width} must be below 2^53 for the exact image pooling"),
            )
        })?;
    // Without pooling there is no division: the non-pool terms stand alone.
    let scale = if has_pool { area as f64 } else { 1.0 };
    let pool_channel = (p.rates.len() + 1) * branch;
    let at = |t: &Tensor<T>, index: &[usize]| t.get(index).to_f64();

    let mut pooled = ExactSum::new();
    let mut sum = ExactSum::new();
    for n in 0..batch {
        for k in 0..kernels {
            // The pooling branch is the same at every position: S2 once per (n, k).
            pooled.clear();
            if let Some(wpool) = wpool {
                for b in 0..branch {
                    let project = at(wp, &[k, pool_channel + b, 0, 0]);
                    for c in 0..channels {
                        let w = at(wpool, &[b, c, 0, 0]);
                        for yy in 0..height {
                            for xx in 0..width {
                                pooled.add_product(&[project, w, input.at4(n, c, yy, xx).to_f64()]);
                            }
                        }
                    }
                }
            }
            for y in 0..height {
                for x in 0..width {
                    sum.clear();
                    for b in 0..branch {
                        let project = at(wp, &[k, b, 0, 0]);
                        for c in 0..channels {
                            let v = input.at4(n, c, y, x).to_f64();
                            sum.add_product(&[scale, project, at(w1x1, &[b, c, 0, 0]), v]);
                        }
                    }
                    for (r, &rate) in p.rates.iter().enumerate() {
                        for b in 0..branch {
                            let project = at(wp, &[k, (1 + r) * branch + b, 0, 0]);
                            for c in 0..channels {
                                for i in 0..3 {
                                    for j in 0..3 {
                                        let v = dilated_value(input, [n, c], [y, x], [i, j], rate);
                                        let w = at(wd, &[r, b, c, i, j]);
                                        sum.add_product(&[scale, project, w, v]);
                                    }
                                }
                            }
                        }
                    }
                    if has_pool {
                        sum.add_sum(&pooled);
                        let magnitude = sum.magnitude() / scale;
                        out.store_div(&[n, k, y, x], &sum, area as u64, magnitude);
                    } else {
                        out.store(&[n, k, y, x], &sum);
                    }
                }
            }
        }
    }
    Ok(())
}

/// `x[n, c, y + (i-1)*rate, x + (j-1)*rate]`, zero outside the image.
fn dilated_value<T: Element>(
    input: &Tensor<T>,
    [n, c]: [usize; 2],
    [y, x]: [usize; 2],
    [i, j]: [usize; 2],
    rate: usize,
) -> f64 {
    let s = input.shape();
    let at = |o: usize, t: usize, size: usize| {
        let v = o as i128 + (t as i128 - 1) * rate as i128;
        (0..size as i128).contains(&v).then_some(v as usize)
    };
    match (at(y, i, s[2]), at(x, j, s[3])) {
        (Some(yy), Some(xx)) => input.at4(n, c, yy, xx).to_f64(),
        _ => 0.0,
    }
}
