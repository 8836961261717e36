//! The search over the space of mistakes (see [`super::families`]): every
//! mistake that applies is recomputed by the exact reference and scored by
//! how well the candidate fits it, first the share of elements within the
//! bound, then the relative L2 norm of what remains. On a conv2d too large
//! to recompute dozens of times, the scores come from a few crops of the
//! output (see [`super::crop`]), and only the best-scoring mistakes are
//! confirmed on the whole problem.

use super::crop::{self, Crop};
use super::evaluate::{compute_as, evaluate};
use super::families::{mistakes, Mistake, Mutated};
use super::tolerance::{Algorithm, Tolerance};
use convoracle_reference::{
    Computed, DType, Op, Padding2d, PaddingMode, PaddingSpec, Problem, Role, Tensor,
};

/// Outputs up to this many elements are searched whole: cropping would
/// save little.
const CROP_ABOVE: usize = 4096;
/// The side of a crop's window.
const WINDOW: usize = 8;
/// How many mistakes that fit every crop are confirmed on the whole problem.
const CONFIRM: usize = 4;

/// How well the candidate fits one mistake.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// The share of the elements within the bound.
    pub share: f64,
    /// `||candidate - mistake|| / ||mistake||` over the finite pairs.
    pub residual: f64,
}

impl Score {
    /// Better first: more elements within the bound, then less residual.
    fn order(a: &Score, b: &Score) -> std::cmp::Ordering {
        b.share
            .total_cmp(&a.share)
            .then(a.residual.total_cmp(&b.residual))
    }
}

/// A mistake with its score.
pub struct Found {
    /// The mistake.
    pub mistake: Box<dyn Mistake>,
    /// Its score on the whole problem.
    pub score: Score,
}

/// What the search found.
#[derive(Default)]
pub struct Outcome {
    /// The mistakes the candidate fits everywhere, best first.
    pub matches: Vec<Found>,
    /// The best-scoring mistake, when none fits everywhere.
    pub closest: Option<Found>,
    /// How many mistakes could be seen on this case and were scored.
    pub tried: usize,
    /// The crops scored on, when the problem was cropped.
    pub crops: Vec<Crop>,
    /// How many mistakes were recomputed on the whole problem.
    pub full_recomputations: usize,
}

/// Searches the mistakes of `problem` for the ones `candidate` fits.
/// `reference` is the problem's exact reference in `dtype`.
pub fn search(
    problem: &Problem<f64>,
    dtype: DType,
    candidate: &Tensor<f64>,
    tolerance: &Tolerance,
    reference: Option<&Computed<f64>>,
) -> Outcome {
    let s = Search {
        problem,
        dtype,
        candidate,
        tolerance,
    };
    let mut out = Outcome::default();
    let same_shape = reference.filter(|r| r.output.shape() == candidate.shape());
    if let Some(r) = same_shape {
        if candidate.len() > CROP_ABOVE && crop::croppable(problem) {
            out.crops = crops_for(problem, r, candidate);
        }
    }
    let reference_parts: Option<Vec<Computed<f64>>> = (!out.crops.is_empty())
        .then(|| {
            out.crops
                .iter()
                .map(|c| {
                    crop::sub_problem(problem, c, &c.channels)
                        .and_then(|sub| compute_as(&sub, dtype).ok())
                })
                .collect()
        })
        .flatten();
    if reference_parts.is_none() {
        out.crops.clear();
    }
    let mut scored: Vec<(Box<dyn Mistake>, Mutated, Score)> = Vec::new();
    for mistake in mistakes(problem, dtype) {
        let Some(mutated) = mistake.apply(problem, dtype) else {
            continue;
        };
        let score = match &reference_parts {
            Some(parts) => s.on_crops(&mutated, &out.crops, parts),
            None => s.on_whole(&mutated, reference).map(|(score, _)| score),
        };
        if let Some(score) = score {
            out.tried += 1;
            scored.push((mistake, mutated, score));
        }
    }
    scored.sort_by(|a, b| Score::order(&a.2, &b.2));
    if out.crops.is_empty() {
        for (mistake, _, score) in scored {
            if score.share >= 1.0 {
                out.matches.push(Found { mistake, score });
            } else if out.matches.is_empty() && out.closest.is_none() {
                out.closest = Some(Found { mistake, score });
            }
        }
        return out;
    }
    // Confirm the mistakes that fit every crop on the whole problem; when
    // none does, the best-scoring one gives the closest match.
    let perfect = scored.iter().filter(|x| x.2.share >= 1.0).count();
    let confirm = if perfect > 0 { perfect.min(CONFIRM) } else { 1 };
    for (mistake, mutated, _) in scored.into_iter().take(confirm) {
        out.full_recomputations += 1;
        let Some((score, _)) = s.on_whole(&mutated, reference) else {
            continue;
        };
        let found = Found { mistake, score };
        if score.share >= 1.0 {
            out.matches.push(found);
        } else if out
            .closest
            .as_ref()
            .is_none_or(|c| Score::order(&score, &c.score).is_lt())
        {
            out.closest = Some(found);
        }
    }
    if !out.matches.is_empty() {
        out.closest = None;
    }
    out
}

/// The crops for a failing candidate: around the element furthest off.
fn crops_for(
    problem: &Problem<f64>,
    reference: &Computed<f64>,
    candidate: &Tensor<f64>,
) -> Vec<Crop> {
    let shape = candidate.shape();
    let mut worst = (0usize, -1.0f64);
    for (i, (c, r)) in candidate
        .data()
        .iter()
        .zip(reference.output.data())
        .enumerate()
    {
        let d = if c.is_finite() && r.is_finite() {
            (c - r).abs()
        } else if c.to_bits() == r.to_bits() {
            0.0
        } else {
            f64::INFINITY
        };
        if d > worst.1 {
            worst = (i, d);
        }
    }
    let (k, h, w) = (shape[1], shape[2], shape[3]);
    let i = worst.0;
    let at = [i / (k * h * w), (i / (h * w)) % k, (i / w) % h, i % w];
    let grouped = matches!(&problem.op, Op::Conv2d(c) if c.geometry.groups != 1);
    crop::choose(shape, at, WINDOW, grouped)
}

struct Search<'a> {
    problem: &'a Problem<f64>,
    dtype: DType,
    candidate: &'a Tensor<f64>,
    tolerance: &'a Tolerance,
}

impl Search<'_> {
    /// The score of `mutated` on the crops (`None`: it cannot produce the
    /// candidate's shape, or cannot be seen on the crops).
    fn on_crops(
        &self,
        mutated: &Mutated,
        crops: &[Crop],
        references: &[Computed<f64>],
    ) -> Option<Score> {
        let Mutated::Problem { problem, channels } = mutated else {
            // A loop of its own cannot be cropped: scored whole.
            return self.on_whole(mutated, None).map(|(s, _)| s);
        };
        let (fitted, _) = fit_shape(problem, self.candidate.shape())?;
        let grouped = matches!(&fitted.op, Op::Conv2d(c) if c.geometry.groups != 1);
        let mut total = Tally::default();
        let mut visible = false;
        for (crop, reference) in crops.iter().zip(references) {
            let wanted: Vec<usize> = match channels {
                Some(map) => crop
                    .channels
                    .iter()
                    .map(|&q| map.get(q).copied())
                    .collect::<Option<_>>()?,
                None => crop.channels.clone(),
            };
            let computed = if grouped {
                // A grouped conv is cropped in space only: every channel,
                // then the wanted ones picked.
                let k = self.candidate.shape()[1];
                let all: Vec<usize> = (0..k).collect();
                let sub = crop::sub_problem(
                    &fitted,
                    &Crop {
                        channels: all.clone(),
                        ..crop.clone()
                    },
                    &all,
                )?;
                let c = compute_as(&sub, self.dtype).ok()?;
                pick_channels(&c, &wanted)?
            } else {
                let sub = crop::sub_problem(&fitted, crop, &wanted)?;
                compute_as(&sub, self.dtype).ok()?
            };
            visible |= computed.output != reference.output;
            let part = crop::cut(self.candidate, crop, None)?;
            // Bounds from the unchanged problem's crop: the same sizes and
            // term counts; the magnitudes are the mistake's.
            let sub = crop::sub_problem(self.problem, crop, &crop.channels)?;
            total.add(&self.tally(&sub, &computed, &part)?);
        }
        visible.then(|| total.score())
    }

    /// The score of `mutated` on the whole problem, with its output.
    fn on_whole(
        &self,
        mutated: &Mutated,
        reference: Option<&Computed<f64>>,
    ) -> Option<(Score, Computed<f64>)> {
        let (bounds_problem, computed) = match mutated {
            Mutated::Output(c) => (self.problem.clone(), c.clone()),
            Mutated::Problem { problem, channels } => {
                let (fitted, top_left) = fit_shape(problem, self.candidate.shape())?;
                let mut c = compute_as(&fitted, self.dtype).ok()?;
                if top_left {
                    c = crop_top_left(&c, self.candidate.shape())?;
                }
                if let Some(map) = channels {
                    c = pick_channels(&c, map)?;
                }
                (if top_left { fitted } else { problem.clone() }, c)
            }
        };
        if computed.output.shape() != self.candidate.shape() {
            return None;
        }
        if reference.is_some_and(|r| r.output == computed.output) {
            // The mistake cannot be seen on this case.
            return None;
        }
        let t = self.tally(&bounds_problem, &computed, self.candidate)?;
        Some((t.score(), computed))
    }

    fn tally(
        &self,
        problem: &Problem<f64>,
        computed: &Computed<f64>,
        candidate: &Tensor<f64>,
    ) -> Option<Tally> {
        // A mistake explains the candidate's non-finite outputs only where
        // it puts them itself, of the same kind: the FFT class's loose rule
        // (any non-finite candidate where the reference is non-finite)
        // would let a mistake that spreads an infinity over the output
        // "match" an FFT that spread it through the transform.
        if self.tolerance.algorithm == Algorithm::Fft
            && !same_non_finite(&computed.output, candidate)
        {
            return None;
        }
        let (c, _) = evaluate(
            problem,
            self.dtype,
            computed,
            candidate.data(),
            self.tolerance,
        )
        .ok()?;
        let (mut diff, mut norm) = (0.0, 0.0);
        for (a, b) in candidate.data().iter().zip(computed.output.data()) {
            if a.is_finite() && b.is_finite() {
                diff += (a - b) * (a - b);
                norm += b * b;
            }
        }
        Some(Tally {
            acceptable: c.acceptable(),
            elements: c.elements,
            diff,
            norm,
        })
    }
}

/// Whether `a` and `b` have the same non-finite values (NaN, +inf, -inf)
/// at the same places.
fn same_non_finite(a: &Tensor<f64>, b: &Tensor<f64>) -> bool {
    let kind = |v: f64| match v {
        _ if v.is_nan() => 1,
        f64::INFINITY => 2,
        f64::NEG_INFINITY => 3,
        _ => 0,
    };
    a.data().len() == b.data().len()
        && a.data()
            .iter()
            .zip(b.data())
            .all(|(&x, &y)| kind(x) == kind(y))
}

/// Counts summed over crops.
#[derive(Default)]
struct Tally {
    acceptable: usize,
    elements: usize,
    diff: f64,
    norm: f64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.acceptable += o.acceptable;
        self.elements += o.elements;
        self.diff += o.diff;
        self.norm += o.norm;
    }

    fn score(&self) -> Score {
        Score {
            share: if self.elements == 0 {
                1.0
            } else {
                self.acceptable as f64 / self.elements as f64
            },
            residual: if self.norm > 0.0 {
                (self.diff / self.norm).sqrt()
            } else if self.diff > 0.0 {
                f64::INFINITY
            } else {
                0.0
            },
        }
    }
}

/// The channels `map` of `c` ([N, K, H, W]), in that order.
fn pick_channels(c: &Computed<f64>, map: &[usize]) -> Option<Computed<f64>> {
    let pick = |t: &Tensor<f64>| {
        let [n, k, h, w]: [usize; 4] = t.shape().try_into().ok()?;
        let plane = h * w;
        let mut data = Vec::with_capacity(n * map.len() * plane);
        for b in 0..n {
            for &ch in map {
                if ch >= k {
                    return None;
                }
                let at = (b * k + ch) * plane;
                data.extend_from_slice(t.data().get(at..at + plane)?);
            }
        }
        Tensor::new(vec![n, map.len(), h, w], data).ok()
    };
    Some(Computed {
        output: pick(&c.output)?,
        magnitude: pick(&c.magnitude)?,
    })
}

/// The problem whose output holds the candidate's: the mutated problem as
/// it is when its output has the candidate's shape, or, for conv2d with
/// zero padding, "fitted": a kernel that loops over the right output range
/// but computes its input index with a wrong parameter reads the top-left
/// part of the mistake's output, with zeros past the padded input, so the
/// bottom/right padding is extended until the output covers the target
/// (the flag says the top-left part must be taken).
pub(crate) fn fit_shape(mutated: &Problem<f64>, target: &[usize]) -> Option<(Problem<f64>, bool)> {
    let shape = mutated.output_shape().ok()?;
    if shape == target {
        return Some((mutated.clone(), false));
    }
    if target.len() != 4 || shape.len() != 4 || shape[..2] != target[..2] {
        return None;
    }
    let Op::Conv2d(params) = &mutated.op else {
        return None;
    };
    if params.padding_mode != PaddingMode::Zeros {
        return None;
    }
    let input = mutated.shape_of(Role::Input)?;
    let weight = mutated.shape_of(Role::Weight)?;
    let resolved = params
        .geometry
        .resolve(
            [input[2], input[3]],
            [weight[2], weight[3]],
            params.padding_mode,
        )
        .ok()?;
    let mut extended = mutated.clone();
    let Op::Conv2d(p) = &mut extended.op else {
        return None;
    };
    // The padding `after` plus `deficit * stride`; `None` when a huge
    // stride, padding or candidate size (an empty candidate's dims may be
    // near 2^64) makes it leave i64.
    let extend = |axis: usize, after: i64| {
        let deficit = target[2 + axis].saturating_sub(resolved.output[axis]) as i128;
        let extra = deficit.checked_mul(p.geometry.stride[axis] as i128)?;
        i64::try_from(extra.checked_add(after as i128)?).ok()
    };
    p.geometry.padding = PaddingSpec::Explicit(Padding2d {
        bottom: extend(0, resolved.padding.bottom)?,
        right: extend(1, resolved.padding.right)?,
        ..resolved.padding
    });
    let s = extended.output_shape().ok()?;
    (s[2] >= target[2] && s[3] >= target[3]).then_some((extended, true))
}

/// The top-left `target[2] x target[3]` part of every output plane.
fn crop_top_left(full: &Computed<f64>, target: &[usize]) -> Option<Computed<f64>> {
    let s = full.output.shape();
    if s[..2] != target[..2] || s[2] < target[2] || s[3] < target[3] {
        return None;
    }
    let pick = |t: &Tensor<f64>| {
        let mut data = Vec::with_capacity(target.iter().product());
        // H*W overflows only for an empty output (nothing to crop).
        for plane in t.data().chunks(s[2].checked_mul(s[3])?.max(1)) {
            for row in plane.chunks(s[3]).take(target[2]) {
                data.extend_from_slice(&row[..target[3]]);
            }
        }
        Tensor::new(target.to_vec(), data).ok()
    };
    Some(Computed {
        output: pick(&full.output)?,
        magnitude: pick(&full.magnitude)?,
    })
}
