//! The Winograd F(m x m, 3 x 3) bound of docs/accuracy.md: a tile computes
//! `Y = A^T [ sum_c (G g_c G^T) (.) (B^T d_c B) ] A`, and every rounding of
//! the transforms reaches every output of the tile, so the bound is taken
//! over the tile, not over the output's own terms:
//!
//! `|y_i - ref_i| <= gamma_N * W_i (+ u_out |ref_i|)`, where `W_i` is the
//! largest, over the m^2 positions output i can take in a tile, of the
//! entry of `|A^T| ( sum_c (|G| |g_c| |G^T|) (.) (|B^T| |d_c| |B|) ) |A|`
//! (plus `|bias|`), and `N = 2 (n_A + n_B + n_G) + C/groups` with `n_X` one
//! more than the most nonzeros in a row of X. Taking the maximum over the
//! alignments makes the bound hold whatever tiling the candidate used.

use super::tolerance::WinogradTile;
use convoracle_reference::spec::shapes::conv2d_geometry;
use convoracle_reference::{Op, PaddingMode, Problem, Result, Role};

/// The transform matrices of a tile (row-major, f64), with the standard
/// interpolation points ({0, +-1, inf}; {0, +-1, +-2, inf};
/// {0, +-1, +-2, +-1/2, inf}).
#[derive(Debug, Clone, PartialEq)]
pub struct Transforms {
    /// Outputs per tile side, m.
    pub m: usize,
    /// Inputs per tile side, alpha = m + 2.
    pub alpha: usize,
    /// `B^T`, alpha x alpha.
    pub bt: Vec<f64>,
    /// `G`, alpha x 3.
    pub g: Vec<f64>,
    /// `A^T`, m x alpha.
    pub at: Vec<f64>,
}

impl WinogradTile {
    /// The tile's transform matrices.
    pub fn transforms(self) -> Transforms {
        let (m, bt, g, at): (usize, &[f64], &[f64], &[f64]) = match self {
            WinogradTile::F2x3 => (2, &F2_BT, &F2_G, &F2_AT),
            WinogradTile::F4x3 => (4, &F4_BT, &F4_G, &F4_AT),
            WinogradTile::F6x3 => (6, &F6_BT, &F6_G, &F6_AT),
        };
        Transforms {
            m,
            alpha: m + 2,
            bt: bt.to_vec(),
            g: g.to_vec(),
            at: at.to_vec(),
        }
    }

    /// `2 (n_A + n_B + n_G)`: the roundings of the three transforms along
    /// one term's path (the channel sum adds C/groups).
    pub fn transform_rounds(self) -> u64 {
        let t = self.transforms();
        let most = |x: &[f64], cols: usize| {
            x.chunks(cols)
                .map(|row| row.iter().filter(|v| **v != 0.0).count())
                .max()
                .unwrap_or(0) as u64
                + 1
        };
        2 * (most(&t.at, t.alpha) + most(&t.bt, t.alpha) + most(&t.g, 3))
    }
}

const F2_BT: [f64; 16] = [
    1., 0., -1., 0., //
    0., 1., 1., 0., //
    0., -1., 1., 0., //
    0., 1., 0., -1.,
];
const F2_G: [f64; 12] = [
    1., 0., 0., //
    0.5, 0.5, 0.5, //
    0.5, -0.5, 0.5, //
    0., 0., 1.,
];
const F2_AT: [f64; 8] = [
    1., 1., 1., 0., //
    0., 1., -1., -1.,
];

const F4_BT: [f64; 36] = [
    4., 0., -5., 0., 1., 0., //
    0., -4., -4., 1., 1., 0., //
    0., 4., -4., -1., 1., 0., //
    0., -2., -1., 2., 1., 0., //
    0., 2., -1., -2., 1., 0., //
    0., 4., 0., -5., 0., 1.,
];
const F4_G: [f64; 18] = [
    1. / 4.,
    0.,
    0., //
    -1. / 6.,
    -1. / 6.,
    -1. / 6., //
    -1. / 6.,
    1. / 6.,
    -1. / 6., //
    1. / 24.,
    1. / 12.,
    1. / 6., //
    1. / 24.,
    -1. / 12.,
    1. / 6., //
    0.,
    0.,
    1.,
];
const F4_AT: [f64; 24] = [
    1., 1., 1., 1., 1., 0., //
    0., 1., -1., 2., -2., 0., //
    0., 1., 1., 4., 4., 0., //
    0., 1., -1., 8., -8., 1.,
];

const F6_BT: [f64; 64] = [
    1.,
    0.,
    -21. / 4.,
    0.,
    21. / 4.,
    0.,
    -1.,
    0., //
    0.,
    1.,
    1.,
    -17. / 4.,
    -17. / 4.,
    1.,
    1.,
    0., //
    0.,
    -1.,
    1.,
    17. / 4.,
    -17. / 4.,
    -1.,
    1.,
    0., //
    0.,
    1. / 2.,
    1. / 4.,
    -5. / 2.,
    -5. / 4.,
    2.,
    1.,
    0., //
    0.,
    -1. / 2.,
    1. / 4.,
    5. / 2.,
    -5. / 4.,
    -2.,
    1.,
    0., //
    0.,
    2.,
    4.,
    -5. / 2.,
    -5.,
    1. / 2.,
    1.,
    0., //
    0.,
    -2.,
    4.,
    5. / 2.,
    -5.,
    -1. / 2.,
    1.,
    0., //
    0.,
    -1.,
    0.,
    21. / 4.,
    0.,
    -21. / 4.,
    0.,
    1.,
];
const F6_G: [f64; 24] = [
    1.,
    0.,
    0., //
    -2. / 9.,
    -2. / 9.,
    -2. / 9., //
    -2. / 9.,
    2. / 9.,
    -2. / 9., //
    1. / 90.,
    1. / 45.,
    2. / 45., //
    1. / 90.,
    -1. / 45.,
    2. / 45., //
    32. / 45.,
    16. / 45.,
    8. / 45., //
    32. / 45.,
    -16. / 45.,
    8. / 45., //
    0.,
    0.,
    1.,
];
const F6_AT: [f64; 48] = [
    1.,
    1.,
    1.,
    1.,
    1.,
    1.,
    1.,
    0., //
    0.,
    1.,
    -1.,
    2.,
    -2.,
    1. / 2.,
    -1. / 2.,
    0., //
    0.,
    1.,
    1.,
    4.,
    4.,
    1. / 4.,
    1. / 4.,
    0., //
    0.,
    1.,
    -1.,
    8.,
    -8.,
    1. / 8.,
    -1. / 8.,
    0., //
    0.,
    1.,
    1.,
    16.,
    16.,
    1. / 16.,
    1. / 16.,
    0., //
    0.,
    1.,
    -1.,
    32.,
    -32.,
    1. / 32.,
    -1. / 32.,
    1.,
];

/// `|X| D |Y|^T` for row-major X (r x a), D (a x b), Y (c x b): r x c.
fn abs_sandwich(x: &[f64], d: &[f64], y: &[f64], a: usize, b: usize) -> Vec<f64> {
    let (r, c) = (x.len() / a, y.len() / b);
    let mut xd = vec![0.0; r * b];
    for i in 0..r {
        for k in 0..a {
            let xv = x[i * a + k].abs();
            if xv != 0.0 {
                for j in 0..b {
                    xd[i * b + j] += xv * d[k * b + j];
                }
            }
        }
    }
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            out[i * c + j] = (0..b).map(|k| xd[i * b + k] * y[j * b + k].abs()).sum();
        }
    }
    out
}

/// Whether the Winograd bound applies: a conv2d with a 3x3 kernel, stride 1
/// and dilation 1 (the shapes Winograd F(m x m, 3 x 3) computes).
pub fn applies(problem: &Problem<f64>) -> bool {
    let Op::Conv2d(p) = &problem.op else {
        return false;
    };
    let kernel = problem.shape_of(Role::Weight).map(|s| s[2..].to_vec());
    kernel.as_deref() == Some(&[3, 3])
        && p.geometry.stride == [1, 1]
        && p.geometry.dilation == [1, 1]
}

/// The tile magnitudes `W_i` of every output of a conv2d (C order), and the
/// channel count per group (the `C/groups` of `N`). The problem must be one
/// the bound [`applies`] to.
pub fn tile_magnitudes(problem: &Problem<f64>, tile: WinogradTile) -> Result<(Vec<f64>, usize)> {
    let Op::Conv2d(params) = &problem.op else {
        unreachable!("callers check `applies` first")
    };
    let shapes = |r: Role| problem.shape_of(r);
    let geometry = conv2d_geometry(params, &shapes)?;
    let x = problem.tensor(Role::Input)?;
    let w = problem.tensor(Role::Weight)?;
    let bias = problem.optional(Role::Bias);
    let t = tile.transforms();
    let (m, alpha) = (t.m, t.alpha);
    let [ho, wo] = geometry.output;
    let [h, wd] = geometry.input;
    let (cg, kg) = (geometry.in_per_group(), geometry.out_per_group());
    let mode: PaddingMode = params.padding_mode;
    let (pt, pl) = (geometry.padding.top, geometry.padding.left);
    let mut out = vec![0.0f64; geometry.batch * geometry.out_channels * ho * wo];
    // |G| |g| |G^T| per (k, c) of a group: the kernel as the candidate
    // applies it (rotated for true convolution).
    let kernel_transform = |k: usize, ci: usize| {
        let mut g = [0.0f64; 9];
        for i in 0..3 {
            for j in 0..3 {
                let (wi, wj) = if params.flip_kernel {
                    (2 - i, 2 - j)
                } else {
                    (i, j)
                };
                g[i * 3 + j] = w.at4(k, ci, wi, wj).abs();
            }
        }
        abs_sandwich(&t.g, &g, &t.g, 3, 3)
    };
    let alpha2 = alpha * alpha;
    for group in 0..geometry.groups {
        let ks = group * kg..(group + 1) * kg;
        let gw: Vec<Vec<f64>> = ks
            .clone()
            .flat_map(|k| (0..cg).map(move |ci| (k, ci)))
            .map(|(k, ci)| kernel_transform(k, ci))
            .collect();
        for n in 0..geometry.batch {
            let mut sums = vec![0.0f64; kg * alpha2];
            let mut block = vec![0.0f64; alpha2];
            // Every tile origin whose tile covers some output.
            for ty in -(m as i64 - 1)..ho as i64 {
                for tx in -(m as i64 - 1)..wo as i64 {
                    sums.fill(0.0);
                    for ci in 0..cg {
                        let c = group * cg + ci;
                        for r in 0..alpha {
                            for s in 0..alpha {
                                let y = ty - pt + r as i64;
                                let xx = tx - pl + s as i64;
                                block[r * alpha + s] =
                                    match (mode.source(y, h), mode.source(xx, wd)) {
                                        (Some(yy), Some(xc)) => x.at4(n, c, yy, xc).abs(),
                                        _ => 0.0,
                                    };
                            }
                        }
                        let v = abs_sandwich(&t.bt, &block, &t.bt, alpha, alpha);
                        for kk in 0..kg {
                            let gwk = &gw[kk * cg + ci];
                            let sum = &mut sums[kk * alpha2..(kk + 1) * alpha2];
                            for (acc, (a, b)) in sum.iter_mut().zip(gwk.iter().zip(&v)) {
                                *acc += a * b;
                            }
                        }
                    }
                    for kk in 0..kg {
                        let k = group * kg + kk;
                        let sum = &sums[kk * alpha2..(kk + 1) * alpha2];
                        let tile_out = abs_sandwich(&t.at, sum, &t.at, alpha, alpha);
                        let b = bias.map_or(0.0, |b| b.data()[k].abs());
                        for s in 0..m {
                            for q in 0..m {
                                let (oy, ox) = (ty + s as i64, tx + q as i64);
                                if oy < 0 || ox < 0 || oy >= ho as i64 || ox >= wo as i64 {
                                    continue;
                                }
                                let i = ((n * geometry.out_channels + k) * ho + oy as usize) * wo
                                    + ox as usize;
                                out[i] = out[i].max(tile_out[s * m + q] + b);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok((out, cg))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `A^T [(G g) (.) (B^T d)]` is the 1-D correlation of d with g: the
    /// matrices are a Winograd algorithm (checked in exact binary fractions
    /// where the points allow, and to 1e-12 otherwise).
    #[test]
    fn every_tile_computes_the_correlation() {
        for tile in WinogradTile::ALL {
            let t = tile.transforms();
            let d: Vec<f64> = (0..t.alpha).map(|i| (i as f64 * 0.7).sin()).collect();
            let g = [0.3, -1.1, 0.45];
            let gg: Vec<f64> = (0..t.alpha)
                .map(|r| (0..3).map(|j| t.g[r * 3 + j] * g[j]).sum())
                .collect();
            let bd: Vec<f64> = (0..t.alpha)
                .map(|r| (0..t.alpha).map(|j| t.bt[r * t.alpha + j] * d[j]).sum())
                .collect();
            for i in 0..t.m {
                let y: f64 = (0..t.alpha)
                    .map(|j| t.at[i * t.alpha + j] * gg[j] * bd[j])
                    .sum();
                let want: f64 = (0..3).map(|j| d[i + j] * g[j]).sum();
                assert!(
                    (y - want).abs() < 1e-12,
                    "{tile:?} output {i}: {y} vs {want}"
                );
            }
        }
    }

    #[test]
    fn transform_rounds_are_those_of_the_contract() {
        let rounds: Vec<u64> = WinogradTile::ALL
            .iter()
            .map(|t| t.transform_rounds())
            .collect();
        assert_eq!(rounds, [22, 30, 38]);
    }
}
