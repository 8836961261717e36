//! A job: every op of the FFT backend is one or more strided, channel-summed
//! cross-correlations of *virtual planes* with *virtual kernels*:
//!
//! ```text
//! out[unit u, map m][oy, ox] = sum over pairs (p, k) of map m, ty, tx of
//!     plane_p[oy*sh + ty, ox*sw + tx] * kernel_k[ty, tx]
//! ```
//!
//! A virtual plane is a channel of a tensor seen through one index map per
//! axis: padding (with the padding mode's values), upsampling by a stride
//! (a transposed conv), dilation of a kernel, a flip. Each coordinate maps
//! to a source index, to a zero that *is* a term of the definition
//! (padding), or to nothing (a gap between upsampled pixels or dilated
//! taps, which the definition has no term for). The FFT engine treats both
//! of the latter as zeros; the direct loop used for non-finite inputs
//! skips absent terms and multiplies padding zeros, exactly as the
//! reference does, so `inf * padding` is NaN there too.

/// What one coordinate of a virtual plane is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tap {
    /// No term: a gap between upsampled pixels or dilated taps.
    Absent,
    /// A zero that is a real term (zero padding).
    Zero,
    /// The source's row (or column) of this index.
    At(usize),
}

/// A family of virtual planes over one tensor: plane `i` reads
/// `data[i * plane_len ..]` (rows of `width`) through the axis maps.
#[derive(Debug, Clone)]
pub(crate) struct Source<'a, T> {
    /// The tensor's data (empty when only the job's shape is wanted).
    pub data: &'a [T],
    /// Elements per source plane.
    pub plane_len: usize,
    /// The source's row length.
    pub width: usize,
    /// The row map; its length is the virtual plane's height.
    pub rows: Vec<Tap>,
    /// The column map; its length is the virtual plane's width.
    pub cols: Vec<Tap>,
    /// Number of planes.
    pub count: usize,
}

impl<T: Copy> Source<'_, T> {
    /// `[rows, cols]` of the virtual plane.
    pub fn extent(&self) -> [usize; 2] {
        [self.rows.len(), self.cols.len()]
    }

    /// The map of coordinate `q` on one axis (`Absent` beyond the plane).
    pub fn tap(map: &[Tap], q: usize) -> Tap {
        map.get(q).copied().unwrap_or(Tap::Absent)
    }

    /// The source value behind two resolved taps: `Some(None)` for a
    /// padding zero, `None` when the term does not exist.
    pub fn value(&self, plane: usize, row: Tap, col: Tap) -> Option<Option<T>> {
        match (row, col) {
            (Tap::Absent, _) | (_, Tap::Absent) => None,
            (Tap::At(r), Tap::At(c)) => {
                Some(Some(self.data[plane * self.plane_len + r * self.width + c]))
            }
            _ => Some(None),
        }
    }
}

/// One independent piece of a job: its output maps (consecutive in the
/// job's output), each a list of (plane, kernel) pairs to sum.
#[derive(Debug, Clone, Default)]
pub(crate) struct Unit {
    /// Per output map, the (plane, kernel) pairs it sums.
    pub maps: Vec<Vec<(usize, usize)>>,
}

/// A channel-summed strided correlation (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Job<'a, T> {
    /// The planes (inputs, padded or upsampled).
    pub planes: Source<'a, T>,
    /// The kernels (dilated, flipped or upsampled).
    pub kernels: Source<'a, T>,
    /// `[Ho, Wo]` of every output map.
    pub out: [usize; 2],
    /// Output stride in plane coordinates.
    pub stride: [usize; 2],
    /// The units; every unit has the same number of maps.
    pub units: Vec<Unit>,
}

/// The sizes of a job that the tiling and its cost depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dims {
    /// Virtual plane extent.
    pub plane: [usize; 2],
    /// Virtual kernel extent.
    pub kernel: [usize; 2],
    /// Output map size.
    pub out: [usize; 2],
    /// Output stride.
    pub stride: [usize; 2],
    /// Most distinct planes one unit transforms per tile.
    pub unit_planes: usize,
    /// Output maps per unit.
    pub maps: usize,
    /// Most pairs of one map.
    pub pairs: usize,
    /// Units.
    pub units: usize,
    /// Groups of classes per unit of the job (1 for a job as it is): the
    /// engine may hold the plane spectra of a block of them at once.
    pub groups: usize,
    /// Most classes of one group (1 for a job as it is).
    pub classes: usize,
    /// Kernels (each transformed once per call).
    pub kernels: usize,
}

impl<T: Copy> Job<'_, T> {
    /// Output maps per unit.
    pub fn maps_per_unit(&self) -> usize {
        self.units.first().map_or(0, |u| u.maps.len())
    }

    /// Output elements of one unit.
    pub fn unit_len(&self) -> usize {
        self.maps_per_unit() * self.out[0] * self.out[1]
    }

    /// Output elements of the whole job.
    pub fn output_len(&self) -> usize {
        self.units.len() * self.unit_len()
    }

    /// The sizes the tiling depends on.
    pub fn dims(&self) -> Dims {
        let unit_planes = self
            .units
            .iter()
            .map(|u| distinct_planes(u).len())
            .max()
            .unwrap_or(0);
        let pairs = self
            .units
            .iter()
            .flat_map(|u| u.maps.iter().map(Vec::len))
            .max()
            .unwrap_or(0);
        Dims {
            plane: self.planes.extent(),
            kernel: self.kernels.extent(),
            out: self.out,
            stride: self.stride,
            unit_planes,
            maps: self.maps_per_unit(),
            pairs,
            units: self.units.len(),
            groups: 1,
            classes: 1,
            kernels: self.kernels.count,
        }
    }
}

/// The distinct planes a unit reads, sorted.
pub(crate) fn distinct_planes(unit: &Unit) -> Vec<usize> {
    let mut ids: Vec<usize> = unit.maps.iter().flatten().map(|&(p, _)| p).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The row (or column) map of a plane padded by `before` on one axis with
/// `mode`, `len` long: coordinate `q` reads source `q - before`.
pub(crate) fn padded_axis(
    len: usize,
    before: i64,
    size: usize,
    mode: convoracle_reference::PaddingMode,
) -> Vec<Tap> {
    (0..len)
        .map(|q| {
            let coord = (q as i128 - before as i128).clamp(i64::MIN as i128, i64::MAX as i128);
            match mode.source(coord as i64, size) {
                Some(s) => Tap::At(s),
                None => Tap::Zero,
            }
        })
        .collect()
}

/// The map of a kernel axis of `taps` taps dilated by `dilation`, read in
/// reverse when `flip`: coordinate `t*dilation` is tap `t` (or `taps-1-t`).
pub(crate) fn dilated_axis(taps: usize, dilation: usize, flip: bool) -> Vec<Tap> {
    let extent = (taps.max(1) - 1) * dilation + 1;
    (0..extent)
        .map(|q| {
            if q % dilation != 0 {
                return Tap::Absent;
            }
            let t = q / dilation;
            Tap::At(if flip { taps - 1 - t } else { t })
        })
        .collect()
}
