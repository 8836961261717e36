//! Packing and unpacking of the depthwise tiles: the transposes between
//! NCHW planes and the channel-interleaved `[.][L]` layout the
//! microkernels read, scalar and (as macros each ISA instantiates) SIMD.

use crate::Element;

/// Packs one run: `dst[t * L + l] = src[starts[l] + t]` for `t < len`,
/// `l < L`. Arguments: `src`, `starts` (`L` entries), `len`, `dst`. Same
/// safety contract as [`DwUkr`].
pub(crate) type Interleave<T> = unsafe fn(&[T], &[usize], usize, &mut [T]);

/// Packs a patch of runs (see [`Patch`]); same arguments as
/// [`Interleave`] otherwise, same safety contract as [`DwUkr`].
pub(crate) type InterleavePatch<T> = unsafe fn(&[T], &[usize], Patch, &mut [T]);

/// Unpacks one row: `dsts[l][at + t] = row[t * L + l]` (`+ bias[l]` when
/// given) for `l < dsts.len()`, `t < len`. Arguments: `row`, `len`,
/// `dsts`, `at`, `bias`. Same safety contract as [`DwUkr`].
pub(crate) type Deinterleave<T> = unsafe fn(&[T], usize, &mut [&mut [T]], usize, Option<&[T]>);

/// Checks the operands of an [`Interleave`] for `lanes` lanes; returns
/// the smallest start when the run is not empty.
pub(crate) fn check_interleave<T>(
    src: &[T],
    starts: &[usize],
    len: usize,
    dst: &[T],
    lanes: usize,
) -> Option<usize> {
    assert_eq!(starts.len(), lanes, "interleave: one start per lane");
    assert!(dst.len() >= len * lanes, "interleave: dst too short");
    if len == 0 {
        return None;
    }
    for &s in starts {
        assert!(
            s.checked_add(len).is_some_and(|end| end <= src.len()),
            "interleave: a lane's run reaches past src"
        );
    }
    starts.iter().copied().min()
}

/// `rows` runs of `len` positions, run `r` of lane `l` read from
/// `src[starts[l] + r * src_pitch ..]` and packed at `dst[r * dst_pitch
/// ..]`: `dst[r * dst_pitch + t * L + l] = src[starts[l] + r * src_pitch +
/// t]` for `r < rows`, `t < len`, `l < L`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Patch {
    /// Positions per run.
    pub len: usize,
    /// Runs.
    pub rows: usize,
    /// Source elements between consecutive runs of a lane.
    pub src_pitch: usize,
    /// Destination elements between consecutive runs.
    pub dst_pitch: usize,
}

/// Checks the operands of an [`InterleavePatch`] for `lanes` lanes;
/// returns whether there is anything to move.
pub(crate) fn check_patch<T>(
    src: &[T],
    starts: &[usize],
    p: &Patch,
    dst: &[T],
    lanes: usize,
) -> bool {
    assert_eq!(starts.len(), lanes, "interleave: one start per lane");
    if p.len == 0 || p.rows == 0 {
        return false;
    }
    let dst_end = (p.rows - 1)
        .checked_mul(p.dst_pitch)
        .and_then(|v| v.checked_add(p.len.checked_mul(lanes)?));
    assert!(
        dst_end.is_some_and(|end| end <= dst.len()),
        "interleave: dst too short"
    );
    let span = (p.rows - 1)
        .checked_mul(p.src_pitch)
        .and_then(|v| v.checked_add(p.len));
    for &s in starts {
        assert!(
            span.and_then(|v| v.checked_add(s))
                .is_some_and(|end| end <= src.len()),
            "interleave: a lane's run reaches past src"
        );
    }
    true
}

/// Checks the operands of a [`Deinterleave`] for `lanes` lanes.
pub(crate) fn check_deinterleave<T>(
    row: &[T],
    len: usize,
    dsts: &[&mut [T]],
    at: usize,
    bias: Option<&[T]>,
    lanes: usize,
) {
    assert!(dsts.len() <= lanes, "deinterleave: more outputs than lanes");
    assert!(row.len() >= len * lanes, "deinterleave: row too short");
    for d in dsts {
        assert!(
            at.checked_add(len).is_some_and(|end| end <= d.len()),
            "deinterleave: a lane's output is too short"
        );
    }
    if let Some(b) = bias {
        assert!(b.len() >= dsts.len(), "deinterleave: a bias per lane");
    }
}

/// The scalar [`Interleave`] (the portable kernel's, and the SIMD ones'
/// when the lanes' starts lie too far apart for 32-bit gather indices).
pub(crate) fn interleave_scalar<T: Copy>(
    src: &[T],
    starts: &[usize],
    len: usize,
    dst: &mut [T],
    lanes: usize,
) {
    for (l, &s) in starts.iter().enumerate().take(lanes) {
        let column = dst.iter_mut().skip(l).step_by(lanes);
        column.zip(&src[s..s + len]).for_each(|(d, &v)| *d = v);
    }
}

/// The scalar [`Deinterleave`].
pub(crate) fn deinterleave_scalar<T: Element>(
    row: &[T],
    len: usize,
    dsts: &mut [&mut [T]],
    at: usize,
    bias: Option<&[T]>,
    lanes: usize,
) {
    for (l, d) in dsts.iter_mut().enumerate() {
        let src = row.iter().skip(l).step_by(lanes);
        let dst = &mut d[at..at + len];
        match bias {
            Some(b) => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = v + b[l]),
            None => dst.iter_mut().zip(src).for_each(|(d, &v)| *d = v),
        }
    }
}

/// Defines `$inter` and, when named, `$deinter` ([`Interleave`],
/// [`Deinterleave`]) for
/// one SIMD type whose vectors hold exactly the kernel's `L` lanes: packing
/// gathers one tile position's `L` lanes (one per input row) with 32-bit
/// indices, unpacking gathers one lane's `L` consecutive pixels from the
/// row (stride `L`) and stores them contiguously. A run shorter than a
/// vector, or a tail, is done by `$tail` (masked ops on AVX-512, scalar on
/// AVX2: `masked_tail` / `scalar_tail`).
#[cfg(target_arch = "x86_64")]
macro_rules! simd_moves {
    (
        $inter:ident, $t:tt, $feat:literal, lanes = $lanes:expr,
        idx = $idx:ty, load_idx = $load_idx:ident,
        gather = |$gb:ident, $gi:ident| $gather:expr,
        store = $store:ident, add = $add:ident, set1 = $set1:ident
        $(, deinterleave = $deinter:ident, tail = $tail:ident)?
    ) => {
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn $inter(src: &[$t], starts: &[usize], len: usize, dst: &mut [$t]) {
            const L: usize = $lanes;
            let Some(min) = check_interleave(src, starts, len, dst, L) else {
                return;
            };
            let mut offsets = [0i32; L];
            for (o, &s) in offsets.iter_mut().zip(starts) {
                match i32::try_from(s - min) {
                    Ok(v) => *o = v,
                    // Lanes too far apart for 32-bit indices.
                    Err(_) => return interleave_scalar(src, starts, len, dst, L),
                }
            }
            // SAFETY: offsets holds L i32s (a full index vector, unaligned
            // load). For t < len, lane l reads src[min + offsets[l] + t] =
            // src[starts[l] + t], inside src by check_interleave; we write
            // dst[t*L .. t*L + L], inside dst (len >= len*L checked).
            unsafe {
                let idx: $idx = $load_idx(offsets.as_ptr().cast());
                let base = src.as_ptr().add(min);
                let out = dst.as_mut_ptr();
                for t in 0..len {
                    let $gb = base.add(t);
                    let $gi = idx;
                    $store(out.add(t * L), $gather);
                }
            }
        }

        $(
            #[target_feature(enable = $feat)]
            pub(crate) unsafe fn $deinter(
                row: &[$t],
                len: usize,
                dsts: &mut [&mut [$t]],
                at: usize,
                bias: Option<&[$t]>,
            ) {
                const L: usize = $lanes;
                check_deinterleave(row, len, dsts, at, bias, L);
                let steps: [i32; L] = std::array::from_fn(|v| (v * L) as i32);
                let full = len / L * L;
                for (l, d) in dsts.iter_mut().enumerate() {
                    let b = bias.map(|b| b[l]);
                    // SAFETY: steps holds L i32s. For t < full, the gather reads
                    // row[(t0 + v) * L + l] with t0 + v < len, inside row (len*L
                    // checked); the store writes d[at + t0 .. at + t0 + L],
                    // inside d (at + len <= d.len() checked).
                    unsafe {
                        let idx: $idx = $load_idx(steps.as_ptr().cast());
                        let out = d.as_mut_ptr().add(at);
                        let mut t0 = 0;
                        while t0 < full {
                            let $gb = row.as_ptr().add(t0 * L + l);
                            let $gi = idx;
                            let mut v = $gather;
                            if let Some(b) = b {
                                v = $add(v, $set1(b));
                            }
                            $store(out.add(t0), v);
                            t0 += L;
                        }
                    }
                    if full < len {
                        $tail!(row, l, full, len, d, at, b, L, $t);
                    }
                }
            }
        )?
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use simd_moves;

/// The scalar tail of a deinterleave: pixels `from .. len` of lane `l`.
#[cfg(target_arch = "x86_64")]
macro_rules! scalar_tail {
    ($row:ident, $l:ident, $from:ident, $len:ident, $d:ident, $at:ident, $b:ident, $lanes:expr, $t:tt) => {
        for t in $from..$len {
            let v = $row[t * $lanes + $l];
            $d[$at + t] = match $b {
                Some(b) => v + b,
                None => v,
            };
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use scalar_tail;
