//! What a call would cost on the direct backend, from shapes alone, as the
//! work of each kind its lowering does: GEMM multiply-adds as the
//! microkernel runs them (rows rounded up to its tile), elements packed or
//! scattered around the GEMM, and multiply-adds of the depthwise kernel.
//! The `auto` backend prices each kind with rates it measures.

use super::sub_pixel::{chooses_split, scatter_cost, sub_pixel_cost, Scattered, VectorPhases};
use super::transposed::PIXEL_MAJOR_MAX;
use convoracle_kernels::{Blocking, ChannelConvKernel, Element as _, Isa, PlaneConvKernel};
use convoracle_reference::{ConvShape, DType, OpGeometry};

/// The work of one call, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DirectWork {
    /// Multiply-adds the GEMM microkernel executes (padded tiles included).
    pub gemm_multiply_adds: f64,
    /// Elements moved around the GEMM: im2col packing, col2im scatter,
    /// output writes.
    pub moved: f64,
    /// Multiply-adds of the depthwise kernel (and other non-GEMM loops).
    pub depthwise_multiply_adds: f64,
}

impl DirectWork {
    fn add(&mut self, other: DirectWork) {
        self.gemm_multiply_adds += other.gemm_multiply_adds;
        self.moved += other.moved;
        self.depthwise_multiply_adds += other.depthwise_multiply_adds;
    }

    /// A GEMM of `blocks` independent `m x n x k` products, with `packed`
    /// elements of B packed per block and `m x n` written.
    fn gemm(blocks: usize, [m, n, k]: [usize; 3], mr: usize, packed: f64) -> DirectWork {
        let blocks = blocks as f64;
        DirectWork {
            gemm_multiply_adds: blocks * (m.div_ceil(mr) * mr) as f64 * n as f64 * k as f64,
            moved: blocks * (packed + (m * n) as f64),
            depthwise_multiply_adds: 0.0,
        }
    }
}

/// The work of `geometry` on the direct backend with instruction set `isa`.
pub fn work(geometry: &OpGeometry, dtype: DType, isa: Isa) -> DirectWork {
    let blocking = match dtype {
        DType::F32 => f32::blocking(isa),
        DType::F64 => f64::blocking(isa),
    };
    let tile = (blocking.mr, blocking.nr);
    let mr = blocking.mr;
    let mut total = DirectWork::default();
    match geometry {
        OpGeometry::Conv2d(g) => total.add(conv2d(g, tile, dtype, isa)),
        OpGeometry::DynamicConv2d(d) => {
            // Each sample's kernel is aggregated, then convolved.
            let kernel = (d.conv.out_channels * d.conv.in_per_group() * d.conv.taps()) as f64;
            total.depthwise_multiply_adds += (d.conv.batch * d.experts) as f64 * kernel;
            total.add(conv2d(&d.conv, tile, dtype, isa));
        }
        OpGeometry::ConvTranspose2d(g) => {
            let t = Scattered::transposed(g);
            if VectorPhases::wins(&t, dtype, isa) {
                // The split on the channel-vector kernel (its multiply-adds
                // priced as the GEMM's, as conv2d's below).
                let (multiply_adds, moved) = VectorPhases::work(&t, dtype, isa);
                total.add(DirectWork {
                    gemm_multiply_adds: multiply_adds,
                    moved,
                    depthwise_multiply_adds: 0.0,
                });
            } else {
                total.add(scattered(&t, blocking));
            }
        }
        OpGeometry::Conv2dBackwardInput(g) if g.stride != [1, 1] => {
            // Zeros padding assumed (the geometry carries no padding mode).
            total.add(scattered(&Scattered::backward_input(g, false), blocking));
        }
        OpGeometry::Conv2dBackwardInput(g) => total.add(backward_input(g, tile, dtype, isa)),
        OpGeometry::Conv2dBackwardWeight(g) => total.add(backward_weight(g, tile)),
        OpGeometry::DepthwiseSeparable2d(d) => {
            total.add(conv2d(&d.depthwise, tile, dtype, isa));
            total.add(conv2d(&d.pointwise, tile, dtype, isa));
        }
        OpGeometry::SpatiallySeparable2d(s) => {
            total.add(conv2d(&s.vertical, tile, dtype, isa));
            total.add(conv2d(&s.horizontal, tile, dtype, isa));
        }
        OpGeometry::Aspp(a) => {
            let plane = a.size[0] * a.size[1];
            // The 1x1 branch and the projection are GEMMs on the input.
            total.add(DirectWork::gemm(
                a.batch,
                [a.branch_channels, plane, a.in_channels],
                mr,
                0.0,
            ));
            total.add(DirectWork::gemm(
                a.batch,
                [
                    a.out_channels,
                    plane,
                    a.branch_channels * (1 + a.rates.len()),
                ],
                mr,
                0.0,
            ));
            for &rate in &a.rates {
                total.add(conv2d(&a.dilated_branch(rate), tile, dtype, isa));
            }
        }
        OpGeometry::DeformConv2d(d) => {
            // Bilinear im2col (four reads and weights per column element),
            // then the GEMM.
            let g = &d.conv;
            let pixels = g.output[0] * g.output[1];
            let columns = g.in_per_group() * g.taps();
            let mut w = DirectWork::gemm(
                g.batch * g.groups,
                [g.out_per_group(), pixels, columns],
                mr,
                (columns * pixels) as f64,
            );
            w.moved += 4.0 * (g.batch * g.groups * columns * pixels) as f64;
            total.add(w);
        }
    }
    total
}

/// A transposed conv (or a strided backward input pass) as `direct` runs
/// it (`transposed.rs`): the sub-pixel split where its cost rule chooses it,
/// the GEMM and col2im scatter otherwise, with the costs of
/// [`super::sub_pixel`] (the moved elements there are weighted by their
/// measured costs; here they are counted in units of
/// [`MOVED_PER_MULTIPLY_ADD`] multiply-adds, the price `auto` gives a moved
/// element).
fn scattered(t: &Scattered, b: Blocking) -> DirectWork {
    let cost = if chooses_split(t, b, PIXEL_MAJOR_MAX) {
        sub_pixel_cost(t, (b.mr, b.nr, b.kc, b.nc))
    } else {
        scatter_cost(t, (b.mr, b.nr, b.kc), PIXEL_MAJOR_MAX)
    };
    DirectWork {
        gemm_multiply_adds: cost.multiply_adds,
        moved: cost.other / MOVED_PER_MULTIPLY_ADD,
        depthwise_multiply_adds: 0.0,
    }
}

/// What `auto` prices a moved element at, in GEMM multiply-adds
/// (`auto::rates`).
const MOVED_PER_MULTIPLY_ADD: f64 = 6.0;

/// `conv2d_backward_input` as `direct` lowers it (`transposed.rs`): for
/// stride 1 with padding within the kernel's reach, the conv of dY on the
/// channel-vector kernel where that wins, else one GEMM of the pixels
/// by the channels over `(tap, kernel)` on pixel-major rows
/// (`input_grad_conv.rs`: dY transposed in, dX out, the weights made
/// tap-major and packed); else a GEMM per tile of dY and a col2im scatter.
/// (The geometry carries no padding mode: zeros are assumed.)
fn backward_input(g: &ConvShape, tile: (usize, usize), dtype: DType, isa: Isa) -> DirectWork {
    let mr = tile.0;
    let reach = [0, 1].map(|a| (g.kernel[a].max(1) - 1) * g.dilation[a]);
    let p = g.padding;
    let pads = [
        reach[0] as i64 - p.top,
        reach[0] as i64 - p.bottom,
        reach[1] as i64 - p.left,
        reach[1] as i64 - p.right,
    ];
    let (kg, cg) = (g.out_per_group(), g.in_per_group());
    let blocks = g.batch * g.groups;
    if g.stride == [1, 1] && pads.iter().all(|&v| v >= 0) {
        let conv = ConvShape {
            in_channels: g.out_channels,
            out_channels: g.in_channels,
            input: g.output,
            output: g.input,
            padding: convoracle_reference::Padding2d {
                top: pads[0],
                bottom: pads[1],
                left: pads[2],
                right: pads[3],
            },
            ..*g
        };
        if super::channel_vector::wins(&conv, dtype, isa) {
            // That conv of dY on the channel-vector kernel, the weights
            // swapped first.
            let mut w = conv2d(&conv, tile, dtype, isa);
            w.moved += (g.groups * kg * cg * g.taps()) as f64;
            return w;
        }
        let pixels = g.input[0] * g.input[1];
        let padded = (g.input[0] + reach[0]) * (g.input[1] + reach[1]);
        let weights = (g.groups * kg * cg * g.taps()) as f64;
        let mut w = DirectWork::gemm(blocks, [pixels, cg, kg * g.taps()], mr, 0.0);
        w.moved += (blocks * kg * padded) as f64 + 2.0 * weights;
        return w;
    }
    let rows = cg * g.taps();
    let pixels = g.output[0] * g.output[1];
    let mut w = DirectWork::gemm(blocks, [rows, pixels, kg], mr, (kg * pixels) as f64);
    w.moved += (blocks * rows * pixels) as f64;
    w
}

/// `conv2d_backward_weight` as `direct` lowers it (`backward_weight.rs`):
/// dY (kernels x pixels) times im2col^T, B packed by contiguous copies from
/// a pixel-major input (`pixel_major.rs`, also moving the input and the
/// gradient once more) where a group has a panel of channels and the
/// padded frame is no larger than im2col, else by im2col's gathers.
fn backward_weight(g: &ConvShape, (mr, nr): (usize, usize)) -> DirectWork {
    let pixels = g.output[0] * g.output[1];
    let (kg, cg) = (g.out_per_group(), g.in_per_group());
    let columns = cg * g.taps();
    let blocks = g.batch * g.groups;
    let frame: usize = (0..2)
        .map(|a| {
            (g.output[a].max(1) - 1) * g.stride[a] + (g.kernel[a].max(1) - 1) * g.dilation[a] + 1
        })
        .product();
    let mut w = DirectWork::gemm(blocks, [kg, columns, pixels], mr, (columns * pixels) as f64);
    if cg >= nr && frame <= g.taps() * pixels {
        w.moved += (blocks * cg * frame) as f64 + (g.groups * kg * columns) as f64;
    }
    w
}

/// conv2d as `direct` lowers it (`conv2d.rs`): depthwise kernel, GEMM on
/// the input for unpadded stride-1 1x1, the plane kernel for a few
/// single-channel planes, the tap-split GEMM when its
/// panels save enough (`tap_split.rs`; the geometry carries no padding
/// mode, so zeros padding is assumed, the usual case wherever the split
/// saves work), the channel-vector kernel where it wins, implicit GEMM
/// otherwise.
fn conv2d(g: &ConvShape, (mr, nr): (usize, usize), dtype: DType, isa: Isa) -> DirectWork {
    let pixels = g.output[0] * g.output[1];
    if super::plane_conv::wins(g) {
        // The plane kernel (`plane_conv.rs`): the multiply-adds of whole
        // vectors of pixels (each a broadcast weight times a loaded
        // vector, priced as the GEMM's), the padded planes copied and the
        // output rows copied out of the row buffer.
        let lanes = match dtype {
            DType::F32 => PlaneConvKernel::<f32>::new(isa).lanes(),
            DType::F64 => PlaneConvKernel::<f64>::new(isa).lanes(),
        };
        let columns = g.output[1].div_ceil(lanes) * lanes;
        let planes = g.batch * g.out_channels;
        let window = |a: usize| g.output[a] + g.kernel[a] - 1;
        return DirectWork {
            gemm_multiply_adds: (planes * g.output[0] * columns * g.taps()) as f64,
            moved: (planes * (window(0) * window(1) + 2 * pixels)) as f64,
            depthwise_multiply_adds: 0.0,
        };
    }
    if g.in_per_group() == 1 && g.groups > 1 {
        // The channel-blocked kernel (`depthwise.rs`): the multiply-adds,
        // plus each output channel's padded input packed into tiles and
        // each output unpacked (moved elements; for a 3x3 layer the two
        // transposes cost about as much as the arithmetic).
        let multiply_adds = (g.batch * g.out_channels * g.taps() * pixels) as f64;
        let extent = |a: usize| {
            let span = (g.output[a].max(1) - 1) * g.stride[a] + 1;
            let dense = span + (g.kernel[a].max(1) - 1) * g.dilation[a];
            dense.min(g.kernel[a].max(1) * span) as f64
        };
        let packed = (g.batch * g.out_channels) as f64 * extent(0) * extent(1);
        return DirectWork {
            depthwise_multiply_adds: multiply_adds,
            moved: (g.batch * g.out_channels * pixels) as f64 + packed,
            ..DirectWork::default()
        };
    }
    let reduction = g.in_per_group() * g.taps();
    let pointwise = g.kernel == [1, 1] && g.stride == [1, 1] && g.padding == Default::default();
    if !pointwise {
        if let Some((reached, buffered)) = super::tap_split::split_pixels(g, nr) {
            // Per (image, group): the taps' GEMMs over the pixels they
            // reach (B packed for each), the buffered taps' adds, the
            // output zeroed; per call the weights transposed tap-major.
            let blocks = g.batch * g.groups;
            let (kg, cg) = (g.out_per_group(), g.in_per_group());
            let mut w = DirectWork::gemm(blocks, [kg, reached, cg], mr, (cg * reached) as f64);
            let channel_blocks = cg.div_ceil(convoracle_kernels::KC);
            w.moved += (blocks * kg * buffered * channel_blocks * 2) as f64;
            w.moved += (g.out_channels * reduction) as f64;
            return w;
        }
    }
    if !pointwise && super::channel_vector::wins(g, dtype, isa) {
        // The channel-vector kernel (`channel_vector.rs`): the multiply-adds
        // of whole channel blocks (priced as the GEMM's), the padded input
        // copied and the weights packed per call, the outputs stored.
        let block = match dtype {
            DType::F32 => ChannelConvKernel::<f32>::new(isa).channels(),
            DType::F64 => ChannelConvKernel::<f64>::new(isa).channels(),
        };
        let blocks = g.batch * g.groups;
        let rows = g.out_per_group().div_ceil(block) * block;
        let window =
            |a: usize| (g.output[a] - 1) * g.stride[a] + (g.kernel[a] - 1) * g.dilation[a] + 1;
        return DirectWork {
            gemm_multiply_adds: (blocks * rows * pixels * reduction) as f64,
            moved: (g.batch * g.in_channels * window(0) * window(1)
                + g.groups * rows * reduction
                + g.batch * g.out_channels * pixels) as f64,
            depthwise_multiply_adds: 0.0,
        };
    }
    let packed = if pointwise {
        0.0
    } else {
        (reduction * pixels) as f64
    };
    DirectWork::gemm(
        g.batch * g.groups,
        [g.out_per_group(), pixels, reduction],
        mr,
        packed,
    )
}
