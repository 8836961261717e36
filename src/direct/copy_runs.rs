//! The short copies the packers make: a run of a row, or every
//! `stride`-th element of one, in forms the compiler vectorises.

/// `dst[k] = src[k * stride]` for every k of `dst`. Strides 1 to 4 (the
/// stems of most networks: 7x7/2, 11x11/4) get loops the compiler
/// unrolls or vectorises: a fixed-size copy, and fixed-size groups of which
/// the first is kept; other strides take the first of each `stride`-sized
/// piece.
pub(crate) fn copy_strided_run<T: Copy>(dst: &mut [T], src: &[T], stride: usize) {
    match stride {
        1 => copy_run(dst, &src[..dst.len()]),
        2 => copy_every::<T, 2>(dst, src),
        3 => copy_every::<T, 3>(dst, src),
        4 => copy_every::<T, 4>(dst, src),
        _ => {
            for (d, piece) in dst.iter_mut().zip(src.chunks(stride)) {
                *d = piece[0];
            }
        }
    }
}

/// `dst[k] = src[k * S]`: whole groups of `S`, then the last element when
/// its group is cut short at the end of the row.
#[inline(always)]
pub(crate) fn copy_every<T: Copy, const S: usize>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let full = n.min(src.len() / S);
    for (d, group) in dst[..full].iter_mut().zip(src.chunks_exact(S)) {
        *d = group[0];
    }
    if full < n {
        dst[full] = src[S * full];
    }
}

/// `dst.copy_from_slice(src)` for the short runs of the packer, in fixed
/// 8-element pieces the compiler turns into vector moves (a `memcpy` call
/// per run of ~20 elements cost more than the copy).
#[inline(always)]
pub(crate) fn copy_run<T: Copy>(dst: &mut [T], src: &[T]) {
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        let s: &[T; 8] = s.try_into().expect("8 elements");
        let d: &mut [T; 8] = d.try_into().expect("8 elements");
        *d = *s;
    }
    for (d, s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = *s;
    }
}

#[cfg(test)]
mod tests {
    use super::copy_strided_run;

    #[test]
    fn strided_runs_take_every_stride_th_element_up_to_the_row_end() {
        let src: Vec<f32> = (0..9).map(|v| v as f32).collect();
        for stride in 1..7 {
            // Every run length whose last element is still in the row,
            // including the one that ends on the row's last element (for
            // stride 2 the last pair is cut short there).
            for len in 0..=(src.len() - 1) / stride + 1 {
                let mut dst = vec![-1.0f32; len];
                copy_strided_run(&mut dst, &src, stride);
                let expected: Vec<f32> = (0..len).map(|k| (k * stride) as f32).collect();
                assert_eq!(dst, expected, "stride {stride}, len {len}");
            }
        }
    }
}
