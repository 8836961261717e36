//! Polyphase forms of a job: strides without computing the outputs that
//! are thrown away, dilation without transforming the gaps between taps,
//! transposed convs without transforming the zero-stuffed input.
//!
//! One axis of a job computes `out[o] = sum_t P[o*s + t] * K[t]` for
//! `o < O` (P the plane's map, K the kernel's, `s` the stride). Split the
//! outputs into `L` classes, `o = a + L*m`, and the taps by a period
//! `S` dividing `L*s`, `t = S*j + u`:
//!
//! ```text
//! out[a + L*m] = sum over u < S, j of P[a*s + u + S*((L*s/S)*m + j)] * K[u + S*j]
//! ```
//!
//! so class `a` is a sum over phases `u` of correlations with stride
//! `L*s/S` of the plane view `P[c0 + S*y]` (with `a*s + u = c0 + S*delta`,
//! `c0 < S`) and the kernel view `K[u + S*j]` shifted right by `delta`
//! taps. A phase whose kernel view has no tap, or whose plane view has no
//! source value (only gaps or padding zeros), adds nothing and is dropped.
//!
//! - stride `s`: `L = 1, S = s`, stride 1 and `s` phases (polyphase);
//! - dilation `d`: `L = S = d`, one phase per class with the undilated
//!   kernel: `d` independent small convs whose outputs interleave;
//! - a transposed conv's plane upsampled by `s`: `L = S = s`, each class
//!   reads the input itself (one plane view shared by every class) with
//!   one phase of the kernel (the sub-pixel decomposition);
//! - `(L, S) = (1, 1)` is the job as it is.
//!
//! The two axes decompose independently; a 2D class is a pair of axis
//! classes. Classes whose plane views are the same form a group: a group
//! transforms its planes once per tile and every class of it reuses them.
//! The cost model of `sizes.rs` picks the form and the tiles together
//! ([`choose`]). The terms of a form are those of the job (every padding
//! zero of a dropped phase multiplies a finite value here), so it is only
//! used for finite inputs; the direct loop runs the job itself.

use super::job::{Dims, Job, Tap};
use super::sizes::{self, Tiles};

/// Most classes times phases one axis may be split into (beyond it the
/// views are a few samples each and the bookkeeping costs more than the
/// transforms save).
const MAX_SPLIT: usize = 4096;

/// Classes that read the same plane views.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Group {
    /// The plane views its classes read (indices into [`Axis::planes`]).
    pub views: Vec<usize>,
    /// Its classes: the class index `a` and its terms, each (index into
    /// `views`, kernel view).
    pub classes: Vec<(usize, Vec<(usize, usize)>)>,
}

/// One axis of a job in polyphase form (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Axis {
    /// `L`: class `a` holds the outputs `a, a + L, a + 2L, ...`.
    pub classes: usize,
    /// `S`: the period the taps are split by.
    pub phases: usize,
    /// Outputs per class, `ceil(O / L)` (class `a` keeps those `< O`).
    pub out: usize,
    /// The stride of every class's correlations, `L*s/S`.
    pub stride: usize,
    /// The plane views' maps.
    pub planes: Vec<Vec<Tap>>,
    /// The kernel views' maps.
    pub kernels: Vec<Vec<Tap>>,
    /// The classes, grouped by the plane views they read.
    pub groups: Vec<Group>,
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn lcm(a: usize, b: usize) -> usize {
    a / gcd(a, b) * b
}

/// The gcd of the distances between the source positions of `map` (0
/// when it has fewer than two): the map's values lie `period` apart.
fn period(map: &[Tap]) -> usize {
    let mut at = map
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t, Tap::At(_)))
        .map(|(q, _)| q);
    let Some(first) = at.next() else { return 0 };
    at.fold(0, |g, q| gcd(g, q - first))
}

fn has_source(map: &[Tap]) -> bool {
    map.iter().any(|t| matches!(t, Tap::At(_)))
}

impl Axis {
    /// The axis as it is: one class, one phase.
    fn identity(plane: &[Tap], kernel: &[Tap], out: usize, stride: usize) -> Axis {
        Axis {
            classes: 1,
            phases: 1,
            out,
            stride,
            planes: vec![plane.to_vec()],
            kernels: vec![kernel.to_vec()],
            groups: vec![Group {
                views: vec![0],
                classes: vec![(0, vec![(0, 0)])],
            }],
        }
    }

    /// `L = classes`, `S = phases` (which must divide `L * stride`).
    fn split(
        plane: &[Tap],
        kernel: &[Tap],
        out: usize,
        stride: usize,
        classes: usize,
        phases: usize,
    ) -> Axis {
        debug_assert_eq!((classes * stride) % phases, 0);
        let view = |map: &[Tap], start: usize| -> Vec<Tap> {
            map.iter().skip(start).step_by(phases).copied().collect()
        };
        let kernel_phases: Vec<Option<Vec<Tap>>> = (0..phases)
            .map(|u| Some(view(kernel, u)).filter(|v| has_source(v)))
            .collect();
        let plane_phases: Vec<Option<Vec<Tap>>> = (0..phases)
            .map(|c| Some(view(plane, c)).filter(|v| has_source(v)))
            .collect();
        let mut axis = Axis {
            classes,
            phases,
            out: out.div_ceil(classes),
            stride: classes * stride / phases,
            planes: Vec::new(),
            kernels: Vec::new(),
            groups: Vec::new(),
        };
        let mut plane_index: Vec<Option<usize>> = vec![None; phases];
        let mut kernel_keys: Vec<(usize, usize)> = Vec::new();
        for a in 0..classes.min(out) {
            let mut terms = Vec::new();
            for (u, k) in kernel_phases.iter().enumerate() {
                let Some(k) = k else { continue };
                let c = a * stride + u;
                let (c0, delta) = (c % phases, c / phases);
                let Some(p) = &plane_phases[c0] else { continue };
                let pv = *plane_index[c0].get_or_insert_with(|| {
                    axis.planes.push(p.clone());
                    axis.planes.len() - 1
                });
                let kv = match kernel_keys.iter().position(|&key| key == (u, delta)) {
                    Some(kv) => kv,
                    None => {
                        let mut shifted = vec![Tap::Absent; delta];
                        shifted.extend_from_slice(k);
                        axis.kernels.push(shifted);
                        kernel_keys.push((u, delta));
                        axis.kernels.len() - 1
                    }
                };
                terms.push((pv, kv));
            }
            let mut views: Vec<usize> = terms.iter().map(|&(pv, _)| pv).collect();
            views.sort_unstable();
            views.dedup();
            let local = terms
                .iter()
                .map(|&(pv, kv)| (views.binary_search(&pv).expect("listed"), kv))
                .collect();
            match axis.groups.iter_mut().find(|g| g.views == views) {
                Some(g) => g.classes.push((a, local)),
                None => axis.groups.push(Group {
                    views,
                    classes: vec![(a, local)],
                }),
            }
        }
        axis
    }

    /// The forms worth pricing for one axis: as it is, the stride's
    /// phases, the period of the kernel's and the plane's values
    /// (dilation, upsampling), and both.
    fn forms(plane: &[Tap], kernel: &[Tap], out: usize, stride: usize) -> Vec<Axis> {
        let mut forms = vec![Axis::identity(plane, kernel, out, stride)];
        let values = lcm(period(kernel).max(1), period(plane).max(1));
        let mut seen = vec![(1, 1)];
        for phases in [stride, values, lcm(values, stride)] {
            let classes = lcm(phases, stride) / stride;
            if seen.contains(&(classes, phases)) || classes * phases > MAX_SPLIT {
                continue;
            }
            seen.push((classes, phases));
            forms.push(Axis::split(plane, kernel, out, stride, classes, phases));
        }
        forms
    }

    fn is_identity(&self) -> bool {
        self.classes == 1 && self.planes.len() == 1 && self.kernels.len() == 1
    }

    /// The longest view of `maps` (at least 1).
    fn extent(maps: &[Vec<Tap>]) -> usize {
        maps.iter().map(Vec::len).max().unwrap_or(0).max(1)
    }

    /// The most of `f` over the groups.
    fn most(&self, f: impl Fn(&Group) -> usize) -> usize {
        self.groups.iter().map(f).max().unwrap_or(0)
    }

    /// The most terms of one class.
    fn most_terms(&self) -> usize {
        self.most(|g| g.classes.iter().map(|(_, t)| t.len()).max().unwrap_or(0))
    }
}

/// A job's polyphase form: one per axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Poly {
    /// The row axis.
    pub rows: Axis,
    /// The column axis.
    pub cols: Axis,
}

impl Poly {
    /// The job as it is.
    #[cfg(test)]
    pub fn identity<T: Copy>(job: &Job<'_, T>) -> Poly {
        Poly {
            rows: Axis::identity(
                &job.planes.rows,
                &job.kernels.rows,
                job.out[0],
                job.stride[0],
            ),
            cols: Axis::identity(
                &job.planes.cols,
                &job.kernels.cols,
                job.out[1],
                job.stride[1],
            ),
        }
    }

    /// Every form worth pricing of `job`.
    pub fn forms<T: Copy>(job: &Job<'_, T>) -> Vec<Poly> {
        let rows = Axis::forms(
            &job.planes.rows,
            &job.kernels.rows,
            job.out[0],
            job.stride[0],
        );
        let cols = Axis::forms(
            &job.planes.cols,
            &job.kernels.cols,
            job.out[1],
            job.stride[1],
        );
        rows.iter()
            .flat_map(|r| {
                cols.iter().map(move |c| Poly {
                    rows: r.clone(),
                    cols: c.clone(),
                })
            })
            .collect()
    }

    /// The form in words: "as is", or the classes and phases per axis.
    pub fn describe(&self) -> String {
        if self.is_identity() {
            return "as is".to_string();
        }
        let (r, c) = (&self.rows, &self.cols);
        format!(
            "polyphase {}x{} output classes, taps in {}x{} phases",
            r.classes, c.classes, r.phases, c.phases
        )
    }

    /// Whether this is the job as it is.
    pub fn is_identity(&self) -> bool {
        self.rows.is_identity() && self.cols.is_identity()
    }

    /// The sizes the tiling and its cost depend on, from the job's.
    pub fn dims(&self, job: &Dims) -> Dims {
        let (r, c) = (&self.rows, &self.cols);
        Dims {
            plane: [Axis::extent(&r.planes), Axis::extent(&c.planes)],
            kernel: [Axis::extent(&r.kernels), Axis::extent(&c.kernels)],
            out: [r.out, c.out],
            stride: [r.stride, c.stride],
            unit_planes: job.unit_planes * r.most(|g| g.views.len()) * c.most(|g| g.views.len()),
            maps: job.maps * r.most(|g| g.classes.len()) * c.most(|g| g.classes.len()),
            pairs: job.pairs * r.most_terms() * c.most_terms(),
            units: job.units * r.groups.len() * c.groups.len(),
            groups: r.groups.len() * c.groups.len(),
            classes: r.most(|g| g.classes.len()) * c.most(|g| g.classes.len()),
            kernels: job.kernels * r.kernels.len() * c.kernels.len(),
        }
    }
}

/// A form of a job with its tiles and their cost.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    /// The polyphase form.
    pub poly: Poly,
    /// The tiles of the form's correlations.
    pub tiles: Tiles,
    /// The cost model's units.
    pub cost: f64,
}

/// The cheapest form of `job` and its tiling within `budget` bytes, or
/// `None` when no form has tiles that fit.
pub(crate) fn choose<T: Copy>(
    job: &Job<'_, T>,
    budget: u64,
    threads: usize,
    real_bytes: usize,
) -> Option<Choice> {
    let base = job.dims();
    let mut best: Option<Choice> = None;
    for poly in Poly::forms(job) {
        let dims = poly.dims(&base);
        let Some(tiles) = sizes::choose(&dims, budget, threads, real_bytes) else {
            continue;
        };
        let cost = sizes::cost(&dims, &tiles);
        if best.as_ref().is_none_or(|b| cost < b.cost) {
            best = Some(Choice { poly, tiles, cost });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fft::job::{dilated_axis, padded_axis};
    use convoracle_reference::PaddingMode;

    /// Every term `(o, t)` of one axis of a form, as `(o, plane position,
    /// kernel position)` mapped back to the job's coordinates, sorted.
    fn terms_of(axis: &Axis, o_count: usize) -> Vec<(usize, Tap, Tap)> {
        let mut out = Vec::new();
        for g in &axis.groups {
            for (a, terms) in &g.classes {
                for m in 0..axis.out {
                    let o = a + axis.classes * m;
                    if o >= o_count {
                        continue;
                    }
                    for &(iv, kv) in terms {
                        let pv = &axis.planes[g.views[iv]];
                        for (j, &kt) in axis.kernels[kv].iter().enumerate() {
                            let pt = pv.get(m * axis.stride + j).copied().unwrap_or(Tap::Absent);
                            if kt != Tap::Absent && matches!(pt, Tap::At(_)) {
                                out.push((o, pt, kt));
                            }
                        }
                    }
                }
            }
        }
        out.sort_by_key(|&(o, p, k)| (o, format!("{p:?}{k:?}")));
        out
    }

    /// The terms with a source value of the job's axis itself.
    fn direct_terms(
        plane: &[Tap],
        kernel: &[Tap],
        o_count: usize,
        s: usize,
    ) -> Vec<(usize, Tap, Tap)> {
        let mut out = Vec::new();
        for o in 0..o_count {
            for (t, &kt) in kernel.iter().enumerate() {
                let pt = plane.get(o * s + t).copied().unwrap_or(Tap::Absent);
                if kt != Tap::Absent && matches!(pt, Tap::At(_)) {
                    out.push((o, pt, kt));
                }
            }
        }
        out.sort_by_key(|&(o, p, k)| (o, format!("{p:?}{k:?}")));
        out
    }

    /// Every form of strided, dilated, padded and upsampled axes has
    /// exactly the job's terms with a source value.
    #[test]
    fn forms_keep_every_term() {
        for size in [1, 2, 5, 9] {
            for taps in [1, 2, 3, 4] {
                for dilation in [1, 2, 3] {
                    for stride in [1, 2, 3] {
                        for before in [0, 1, 4] {
                            let kernel = dilated_axis(taps, dilation, before % 2 == 1);
                            let extent = kernel.len();
                            let padded = size + 2 * before;
                            if padded < extent {
                                continue;
                            }
                            let o_count = (padded - extent) / stride + 1;
                            let len = (o_count - 1) * stride + extent;
                            let mode = [PaddingMode::Zeros, PaddingMode::Reflect][before % 2];
                            let mode = if size < 2 { PaddingMode::Zeros } else { mode };
                            let plane = padded_axis(len, before as i64, size, mode);
                            let want = direct_terms(&plane, &kernel, o_count, stride);
                            for axis in Axis::forms(&plane, &kernel, o_count, stride) {
                                assert_eq!(
                                    terms_of(&axis, o_count),
                                    want,
                                    "size {size} taps {taps} d {dilation} s {stride} pad {before} \
                                     L {} stride' {}",
                                    axis.classes,
                                    axis.stride
                                );
                            }
                            // An upsampled plane (a transposed conv's input).
                            let up: Vec<Tap> = (0..len)
                                .map(|q| {
                                    if q % (stride + 1) == before % (stride + 1) {
                                        Tap::At(q / (stride + 1))
                                    } else {
                                        Tap::Absent
                                    }
                                })
                                .collect();
                            let want = direct_terms(&up, &kernel, o_count, stride);
                            for axis in Axis::forms(&up, &kernel, o_count, stride) {
                                assert_eq!(terms_of(&axis, o_count), want);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn dilation_splits_into_undilated_classes() {
        let kernel = dilated_axis(3, 4, false);
        let plane = padded_axis(20 + 8, 4, 20, PaddingMode::Zeros);
        let forms = Axis::forms(&plane, &kernel, 20, 1);
        let split = forms
            .iter()
            .find(|a| a.classes == 4)
            .expect("a dilation form");
        assert_eq!(split.stride, 1);
        assert_eq!(split.out, 5);
        assert_eq!(split.kernels, vec![dilated_axis(3, 1, false)]);
        assert_eq!(split.groups.len(), 4);
    }
}
