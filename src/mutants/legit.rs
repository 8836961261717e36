//! Correct conv2d implementations that sum differently from the reference:
//! im2col + GEMM, FFT (radix-2 complex, f32) and Winograd F(2x2, 3x3), all
//! in f32. The oracle must accept them under the bound they claim.

// Small matrix products read best with explicit indices.
#![allow(clippy::needless_range_loop)]

use crate::reference::spec::shapes::conv2d_geometry;
use crate::reference::{Conv2dParams, ConvShape, Op, Problem, Role, Tensor};
use crate::verify::WinogradTile;

struct Plan<'a> {
    p: &'a Conv2dParams,
    r: ConvShape,
    n: usize,
    c: usize,
    k: usize,
    x: &'a Tensor<f32>,
    w: &'a Tensor<f32>,
    bias: Option<&'a Tensor<f32>>,
}

fn plan(problem: &Problem<f32>) -> Plan<'_> {
    let Op::Conv2d(p) = &problem.op else {
        panic!("conv2d only")
    };
    let shapes = |r: Role| problem.shape_of(r);
    let r = conv2d_geometry(p, &shapes).expect("valid case");
    let (n, c, k) = (r.batch, r.in_channels, r.out_channels);
    Plan {
        p,
        r,
        n,
        c,
        k,
        x: &problem.tensors[&Role::Input],
        w: &problem.tensors[&Role::Weight],
        bias: problem.tensors.get(&Role::Bias),
    }
}

impl Plan<'_> {
    /// The padded plane of (b, c): `hp x wp` values from padded row/col 0.
    fn padded(&self, b: usize, c: usize, hp: usize, wp: usize) -> Vec<f32> {
        let [h, w] = [self.x.shape()[2], self.x.shape()[3]];
        let mut out = vec![0f32; hp * wp];
        for y in 0..hp {
            for x in 0..wp {
                let sy = self.p.padding_mode.source(y as i64 - self.r.padding.top, h);
                let sx = self
                    .p
                    .padding_mode
                    .source(x as i64 - self.r.padding.left, w);
                if let (Some(sy), Some(sx)) = (sy, sx) {
                    out[y * wp + x] = self.x.at4(b, c, sy, sx);
                }
            }
        }
        out
    }

    /// Weight tap (i, j) of (k, ci), honouring flip_kernel.
    fn tap(&self, k: usize, ci: usize, i: usize, j: usize) -> f32 {
        let [kh, kw] = [self.w.shape()[2], self.w.shape()[3]];
        if self.p.flip_kernel {
            self.w.at4(k, ci, kh - 1 - i, kw - 1 - j)
        } else {
            self.w.at4(k, ci, i, j)
        }
    }

    fn dims(&self) -> (usize, usize, usize, usize, usize, usize) {
        let g = self.p.geometry.groups;
        (
            self.c / g,
            self.k / g,
            self.w.shape()[2],
            self.w.shape()[3],
            self.r.output[0],
            self.r.output[1],
        )
    }

    fn bias(&self, k: usize) -> f32 {
        self.bias.map_or(0.0, |b| b.data()[k])
    }
}

/// im2col + GEMM: the column matrix [Cg*kh*kw, Ho*Wo] per (n, group), then
/// a GEMM whose dot products use four interleaved f32 accumulators.
pub fn im2col_gemm(problem: &Problem<f32>) -> Tensor<f32> {
    let pl = plan(problem);
    let (cg, kg, kh, kw, ho, wo) = pl.dims();
    let [sh, sw] = pl.p.geometry.stride;
    let [dh, dw] = pl.p.geometry.dilation;
    let hp = ((ho - 1) * sh + (kh - 1) * dh + 1).max(1);
    let wp = ((wo - 1) * sw + (kw - 1) * dw + 1).max(1);
    let rows = cg * kh * kw;
    let mut y = vec![0f32; pl.n * pl.k * ho * wo];
    for b in 0..pl.n {
        for g in 0..pl.p.geometry.groups {
            let mut col = vec![0f32; rows * ho * wo];
            for ci in 0..cg {
                let plane = pl.padded(b, g * cg + ci, hp, wp);
                for i in 0..kh {
                    for j in 0..kw {
                        let row = (ci * kh + i) * kw + j;
                        for oy in 0..ho {
                            for ox in 0..wo {
                                col[row * ho * wo + oy * wo + ox] =
                                    plane[(oy * sh + i * dh) * wp + ox * sw + j * dw];
                            }
                        }
                    }
                }
            }
            for kk in 0..kg {
                let k = g * kg + kk;
                let a: Vec<f32> = (0..rows)
                    .map(|r| pl.tap(k, r / (kh * kw), (r / kw) % kh, r % kw))
                    .collect();
                for o in 0..ho * wo {
                    let mut acc = [0f32; 4];
                    for (r, &av) in a.iter().enumerate() {
                        acc[r % 4] += av * col[r * ho * wo + o];
                    }
                    y[(b * pl.k + k) * ho * wo + o] =
                        ((acc[0] + acc[1]) + (acc[2] + acc[3])) + pl.bias(k);
                }
            }
        }
    }
    Tensor::new(vec![pl.n, pl.k, ho, wo], y).expect("sizes agree")
}

/// An in-place iterative radix-2 complex FFT of length 2^m (f32, twiddles
/// rounded from f64); `inverse` conjugates the twiddles (no 1/N scaling).
fn fft(re: &mut [f32], im: &mut [f32], inverse: bool) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let sign = if inverse { 1.0 } else { -1.0 };
        for start in (0..n).step_by(len) {
            for t in 0..len / 2 {
                let angle = sign * 2.0 * std::f64::consts::PI * t as f64 / len as f64;
                let (wr, wi) = (angle.cos() as f32, angle.sin() as f32);
                let (a, b) = (start + t, start + t + len / 2);
                let (xr, xi) = (re[b] * wr - im[b] * wi, re[b] * wi + im[b] * wr);
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
            }
        }
        len <<= 1;
    }
}

/// A 2D FFT of an `h x w` row-major grid (both powers of two).
fn fft2(re: &mut [f32], im: &mut [f32], h: usize, w: usize, inverse: bool) {
    for r in 0..h {
        fft(
            &mut re[r * w..(r + 1) * w],
            &mut im[r * w..(r + 1) * w],
            inverse,
        );
    }
    let (mut cr, mut ci) = (vec![0f32; h], vec![0f32; h]);
    for col in 0..w {
        for r in 0..h {
            cr[r] = re[r * w + col];
            ci[r] = im[r * w + col];
        }
        fft(&mut cr, &mut ci, inverse);
        for r in 0..h {
            re[r * w + col] = cr[r];
            im[r * w + col] = ci[r];
        }
    }
}

/// FFT convolution: per (n, k), the spectra of the padded planes times the
/// conjugate spectra of the dilated kernels, summed over the group's
/// channels, one inverse transform, then the strided samples.
pub fn fft_conv(problem: &Problem<f32>) -> Tensor<f32> {
    let pl = plan(problem);
    let (cg, kg, kh, kw, ho, wo) = pl.dims();
    let [sh, sw] = pl.p.geometry.stride;
    let [dh, dw] = pl.p.geometry.dilation;
    let hp = ((ho - 1) * sh + (kh - 1) * dh + 1).max(1);
    let wp = ((wo - 1) * sw + (kw - 1) * dw + 1).max(1);
    // Circular correlation does not wrap for the outputs we keep when the
    // transform covers the padded plane.
    let (lh, lw) = (hp.next_power_of_two(), wp.next_power_of_two());
    let size = lh * lw;
    let mut y = vec![0f32; pl.n * pl.k * ho * wo];
    for b in 0..pl.n {
        let spectra: Vec<(Vec<f32>, Vec<f32>)> = (0..pl.c)
            .map(|c| {
                let plane = pl.padded(b, c, hp, wp);
                let (mut re, mut im) = (vec![0f32; size], vec![0f32; size]);
                for r in 0..hp {
                    re[r * lw..r * lw + wp].copy_from_slice(&plane[r * wp..(r + 1) * wp]);
                }
                fft2(&mut re, &mut im, lh, lw, false);
                (re, im)
            })
            .collect();
        for k in 0..pl.k {
            let g = k / kg;
            let (mut ar, mut ai) = (vec![0f32; size], vec![0f32; size]);
            for ci in 0..cg {
                let (mut wr, mut wi) = (vec![0f32; size], vec![0f32; size]);
                for i in 0..kh {
                    for j in 0..kw {
                        wr[i * dh * lw + j * dw] = pl.tap(k, ci, i, j);
                    }
                }
                fft2(&mut wr, &mut wi, lh, lw, false);
                let (xr, xi) = &spectra[g * cg + ci];
                for f in 0..size {
                    // X * conj(W): correlation.
                    ar[f] += xr[f] * wr[f] + xi[f] * wi[f];
                    ai[f] += xi[f] * wr[f] - xr[f] * wi[f];
                }
            }
            fft2(&mut ar, &mut ai, lh, lw, true);
            let scale = 1.0 / size as f32;
            for oy in 0..ho {
                for ox in 0..wo {
                    y[((b * pl.k + k) * ho + oy) * wo + ox] =
                        ar[oy * sh * lw + ox * sw] * scale + pl.bias(k);
                }
            }
        }
    }
    Tensor::new(vec![pl.n, pl.k, ho, wo], y).expect("sizes agree")
}

/// Winograd F(2x2, 3x3), the tile most libraries start with.
pub fn winograd_f2x3(problem: &Problem<f32>) -> Tensor<f32> {
    winograd(problem, WinogradTile::F2x3, false)
}

/// Rounds to bfloat16 (round to nearest even on the 16 dropped bits).
fn bf16(v: f32) -> f32 {
    let bits = v.to_bits();
    let rounded = bits.wrapping_add(0x7FFF + ((bits >> 16) & 1)) & 0xFFFF_0000;
    f32::from_bits(rounded)
}

/// Winograd F(m x m, 3 x 3) in f32 for 3x3 kernels with stride 1 and
/// dilation 1: Y = A^T [sum_c (G g G^T) .* (B^T d B)] A on alpha x alpha
/// input tiles, with the standard points. `bf16_sums` plants a bug: the
/// channel sum is kept in bfloat16.
pub fn winograd(problem: &Problem<f32>, tile: WinogradTile, bf16_sums: bool) -> Tensor<f32> {
    let pl = plan(problem);
    let (cg, kg, kh, kw, ho, wo) = pl.dims();
    assert!(kh == 3 && kw == 3, "F(m x m, 3x3) needs a 3x3 kernel");
    assert_eq!(pl.p.geometry.stride, [1, 1]);
    assert_eq!(pl.p.geometry.dilation, [1, 1]);
    let t = tile.transforms();
    let (m, a) = (t.m, t.alpha);
    let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let (bt, g, at) = (f(&t.bt), f(&t.g), f(&t.at));
    let (th, tw) = (ho.div_ceil(m), wo.div_ceil(m));
    let (hp, wp) = (m * th + 2, m * tw + 2);
    // (r x q) = X (r x p) * Y^T (q x p), row-major, in f32.
    let mul_t = |x: &[f32], y: &[f32], p: usize| {
        let (r, q) = (x.len() / p, y.len() / p);
        let mut out = vec![0f32; r * q];
        for i in 0..r {
            for j in 0..q {
                out[i * q + j] = (0..p).map(|k| x[i * p + k] * y[j * p + k]).sum();
            }
        }
        out
    };
    let transpose = |x: &[f32], cols: usize| {
        let rows = x.len() / cols;
        let mut out = vec![0f32; x.len()];
        for i in 0..rows {
            for j in 0..cols {
                out[j * rows + i] = x[i * cols + j];
            }
        }
        out
    };
    let mut y = vec![0f32; pl.n * pl.k * ho * wo];
    for b in 0..pl.n {
        let planes: Vec<Vec<f32>> = (0..pl.c).map(|c| pl.padded(b, c, hp, wp)).collect();
        for k in 0..pl.k {
            let grp = k / kg;
            // U = G g G^T per input channel of the group.
            let u: Vec<Vec<f32>> = (0..cg)
                .map(|ci| {
                    let kernel: Vec<f32> = (0..9).map(|i| pl.tap(k, ci, i / 3, i % 3)).collect();
                    let gg = mul_t(&g, &transpose(&kernel, 3), 3); // a x 3 = G g
                    mul_t(&gg, &g, 3) // a x a = (G g) G^T
                })
                .collect();
            for ty in 0..th {
                for tx in 0..tw {
                    let mut sum = vec![0f32; a * a];
                    for (ci, uc) in u.iter().enumerate() {
                        let plane = &planes[grp * cg + ci];
                        let d: Vec<f32> = (0..a * a)
                            .map(|i| plane[(m * ty + i / a) * wp + m * tx + i % a])
                            .collect();
                        let bd = mul_t(&bt, &transpose(&d, a), a); // B^T d
                        let v = mul_t(&bd, &bt, a); // (B^T d) B
                        for (acc, (x, z)) in sum.iter_mut().zip(uc.iter().zip(&v)) {
                            *acc += x * z;
                            if bf16_sums {
                                *acc = bf16(*acc);
                            }
                        }
                    }
                    let am = mul_t(&at, &transpose(&sum, a), a); // A^T M
                    let out = mul_t(&am, &at, a); // (A^T M) A
                    for r in 0..m {
                        for q in 0..m {
                            let (oy, ox) = (m * ty + r, m * tx + q);
                            if oy < ho && ox < wo {
                                y[((b * pl.k + k) * ho + oy) * wo + ox] =
                                    out[r * m + q] + pl.bias(k);
                            }
                        }
                    }
                }
            }
        }
    }
    Tensor::new(vec![pl.n, pl.k, ho, wo], y).expect("sizes agree")
}
