//! The depthwise tile tables: one axis of the conv cut into blocks of
//! outputs (row bands or column blocks), with the input index each tile
//! position holds (see the parent module's docs on dense and segmented
//! tiles).

use super::super::taps::{source, NONE};
use crate::error::Result;
use convoracle_reference::PaddingMode;
use std::ops::Range;

/// One axis cut into blocks of outputs (row bands or column blocks), with
/// the tile positions each block packs.
#[derive(Debug, Clone)]
pub(super) struct Axis {
    pub(super) blocks: Vec<Block>,
    /// Per tile position of every block (block by block), the input index
    /// it holds, or [`NONE`] for a zero of the padding.
    pub(super) table: Vec<u32>,
    /// The table compressed into runs (see [`Run`]), block by block.
    pub(super) runs: Vec<Run>,
}

/// One block of outputs of an axis.
#[derive(Debug, Clone)]
pub(super) struct Block {
    /// First output and count.
    pub(super) o0: usize,
    pub(super) len: usize,
    /// Tile positions: `table[start .. start + width]`.
    pub(super) start: usize,
    pub(super) width: usize,
    /// Tile position offset between consecutive taps (`dilation` dense,
    /// the segment length segmented).
    pub(super) tap_step: usize,
    /// This block's `runs`.
    pub(super) runs: Range<usize>,
}

/// The next `len` tile positions (runs follow each other from the block's
/// first position) hold input `src .. src + len`, or zeros when `src` is
/// [`NONE`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Run {
    pub(super) len: usize,
    pub(super) src: u32,
}

/// One axis of the conv, as [`Axis::new`] takes it.
pub(super) struct AxisShape {
    pub(super) outputs: usize,
    pub(super) kernel: usize,
    pub(super) stride: usize,
    pub(super) dilation: usize,
    pub(super) before: i64,
    pub(super) size: usize,
    pub(super) mode: PaddingMode,
}

impl AxisShape {
    /// `(width, tap_step)` of a block of `len` outputs (see the module
    /// docs: dense unless the dilation leaves gaps between the taps).
    pub(super) fn layout(&self, len: usize) -> (usize, usize) {
        let seg = (len - 1) * self.stride + 1;
        if self.kernel > 1 && self.dilation > seg {
            (self.kernel * seg, seg)
        } else {
            (seg + (self.kernel - 1) * self.dilation, self.dilation)
        }
    }

    /// The largest block length in `1 ..= outputs` whose width fits
    /// `max_width` (1 when none does).
    pub(super) fn block_fitting(&self, max_width: usize) -> usize {
        let (mut lo, mut hi) = (1, self.outputs.max(1));
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if self.layout(mid).0 <= max_width {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        lo
    }
}

impl Axis {
    /// Cuts `a` into blocks of `block` outputs and tabulates their tiles.
    pub(super) fn new(a: &AxisShape, block: usize) -> Result<Self> {
        let (mut blocks, mut table, mut runs) = (Vec::new(), Vec::new(), Vec::new());
        for o0 in (0..a.outputs).step_by(block.max(1)) {
            let len = block.min(a.outputs - o0);
            let (width, tap_step) = a.layout(len);
            let seg = (len - 1) * a.stride + 1;
            let segmented = a.kernel > 1 && a.dilation > seg;
            let start = table.len();
            let first_run = runs.len();
            let origin = o0 as i128 * a.stride as i128 - a.before as i128;
            for t in 0..width {
                let coord = if segmented {
                    origin + ((t / seg) * a.dilation + t % seg) as i128
                } else {
                    origin + t as i128
                };
                let s = source(a.mode, coord, a.size).map_or(NONE, |s| s as u32);
                table.push(s);
                // A block's first position always starts a run of its own.
                match runs.last_mut() {
                    Some(r) if t > 0 && extends(r, s) => r.len += 1,
                    _ => runs.push(Run { len: 1, src: s }),
                }
            }
            blocks.push(Block {
                o0,
                len,
                start,
                width,
                tap_step,
                runs: first_run..runs.len(),
            });
        }
        Ok(Axis {
            blocks,
            table,
            runs,
        })
    }

    /// The table entries of block `b`.
    pub(super) fn sources(&self, b: &Block) -> &[u32] {
        &self.table[b.start..b.start + b.width]
    }
}

/// Whether source `s` continues run `r`.
fn extends(r: &Run, s: u32) -> bool {
    if r.src == NONE {
        s == NONE
    } else {
        s != NONE && s == r.src + r.len as u32
    }
}
