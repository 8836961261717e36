//! Kernel mistakes: the kernel read under one of the symmetries of the
//! square (a flip of one axis, a transpose, a rotation by 90 degrees; the
//! 180-degree rotation is the catalogue's `kernel flipped`), and the
//! weight's bytes read in another memory layout (stored OIHW, read as
//! OHWI, HWIO, IOHW, ...).

use super::{with_tensor, Family, Mistake, Mutated};
use convoracle_reference::{DType, Op, Problem, Role, Tensor};

/// A symmetry of the kernel square, other than the identity and the
/// rotation by 180 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symmetry {
    /// Rows in reverse order (flipped upside down).
    FlipRows,
    /// Columns in reverse order (mirrored left-right).
    FlipColumns,
    /// Rows and columns exchanged (square kernels).
    Transpose,
    /// Mirrored about the anti-diagonal (square kernels).
    AntiTranspose,
    /// Rotated by 90 degrees clockwise (square kernels).
    RotateClockwise,
    /// Rotated by 90 degrees counter-clockwise (square kernels).
    RotateCounterClockwise,
}

impl Symmetry {
    const ALL: [Symmetry; 6] = [
        Symmetry::FlipRows,
        Symmetry::FlipColumns,
        Symmetry::Transpose,
        Symmetry::AntiTranspose,
        Symmetry::RotateClockwise,
        Symmetry::RotateCounterClockwise,
    ];

    /// The tap of the true kernel read at (i, j) of a `k x k` (or, for
    /// the flips, `kh x kw`) kernel.
    fn source(self, i: usize, j: usize, kh: usize, kw: usize) -> (usize, usize) {
        match self {
            Symmetry::FlipRows => (kh - 1 - i, j),
            Symmetry::FlipColumns => (i, kw - 1 - j),
            Symmetry::Transpose => (j, i),
            Symmetry::AntiTranspose => (kw - 1 - j, kh - 1 - i),
            Symmetry::RotateClockwise => (kw - 1 - j, i),
            Symmetry::RotateCounterClockwise => (j, kh - 1 - i),
        }
    }

    fn square_only(self) -> bool {
        !matches!(self, Symmetry::FlipRows | Symmetry::FlipColumns)
    }
}

/// One kernel mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelMistake {
    /// The kernel taps read under a symmetry of the square.
    Symmetry(Symmetry),
    /// The weight's bytes read as if stored in this memory order: the
    /// logical axes (0..4 of the op's weight shape) from outermost to
    /// innermost.
    Layout([usize; 4]),
}

/// The letters of the weight's logical axes: OIHW for the forward ops,
/// IOHW for conv_transpose2d (PyTorch's [C_in, K/groups, kh, kw]).
fn letters(op: &Op) -> [char; 4] {
    match op {
        Op::ConvTranspose2d(_) => ['I', 'O', 'H', 'W'],
        _ => ['O', 'I', 'H', 'W'],
    }
}

/// A memory order in the logical axes' letters.
fn spell(op: &Op, order: [usize; 4]) -> String {
    let l = letters(op);
    order.iter().map(|&a| l[a]).collect()
}

impl Mistake for KernelMistake {
    fn name(&self) -> String {
        match self {
            KernelMistake::Symmetry(s) => match s {
                Symmetry::FlipRows => "kernel flipped vertically".into(),
                Symmetry::FlipColumns => "kernel flipped horizontally".into(),
                Symmetry::Transpose => "kernel transposed".into(),
                Symmetry::AntiTranspose => "kernel anti-transposed".into(),
                Symmetry::RotateClockwise => "kernel rotated 90 degrees clockwise".into(),
                Symmetry::RotateCounterClockwise => {
                    "kernel rotated 90 degrees counter-clockwise".into()
                }
            },
            // The letters need the op; the search names layouts through
            // `layout_name`, this is the op-free spelling.
            KernelMistake::Layout(order) => {
                format!(
                    "weight read as {}",
                    spell(&Op::Conv2d(Default::default()), *order)
                )
            }
        }
    }

    fn description(&self) -> String {
        match self {
            KernelMistake::Symmetry(s) => format!(
                "the kernel taps were read {}: check the order of the kernel loops \
                 and which index runs over rows",
                match s {
                    Symmetry::FlipRows => "with the rows in reverse order",
                    Symmetry::FlipColumns => "with the columns in reverse order",
                    Symmetry::Transpose => "with rows and columns exchanged (kh and kw swapped)",
                    Symmetry::AntiTranspose => "mirrored about the anti-diagonal",
                    Symmetry::RotateClockwise => "rotated by 90 degrees clockwise",
                    Symmetry::RotateCounterClockwise => "rotated by 90 degrees counter-clockwise",
                }
            ),
            KernelMistake::Layout(order) => format!(
                "the weight's memory (stored in the case's layout) was indexed as if it \
                 were laid out {} (outermost axis first)",
                spell(&Op::Conv2d(Default::default()), *order)
            ),
        }
    }

    fn family(&self) -> Family {
        Family::Kernel
    }

    fn apply(&self, problem: &Problem<f64>, _: DType) -> Option<Mutated> {
        let q = match *self {
            KernelMistake::Symmetry(s) => {
                let mut q = problem.clone();
                let mut changed = false;
                for role in [Role::Weight, Role::DepthwiseWeight] {
                    if let Some(w) = problem.tensors.get(&role) {
                        let t = symmetric(w, s)?;
                        changed |= t != *w;
                        q.tensors.insert(role, t);
                    }
                }
                changed.then_some(q)?
            }
            KernelMistake::Layout(order) => {
                with_tensor(problem, Role::Weight, |w| reinterpret(w, order))?
            }
        };
        Some(Mutated::Problem {
            problem: q,
            channels: None,
        })
    }
}

/// `w` (kernel in the last two axes) read under `s`; `None` for a
/// non-square kernel under a symmetry that needs a square.
fn symmetric(w: &Tensor<f64>, s: Symmetry) -> Option<Tensor<f64>> {
    let shape = w.shape();
    if shape.len() < 2 || w.is_empty() {
        return None;
    }
    let (kh, kw) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    if s.square_only() && kh != kw {
        return None;
    }
    let taps = kh * kw;
    let mut data = Vec::with_capacity(w.len());
    for plane in w.data().chunks(taps) {
        for i in 0..kh {
            for j in 0..kw {
                let (a, b) = s.source(i, j, kh, kw);
                data.push(plane[a * kw + b]);
            }
        }
    }
    Tensor::new(shape.to_vec(), data).ok()
}

/// The 4-d `w` as a kernel reads it when it believes the same memory holds
/// the axes in `order` (outermost first): logical element (a0, a1, a2, a3)
/// is read at the offset that order gives it.
fn reinterpret(w: &Tensor<f64>, order: [usize; 4]) -> Option<Tensor<f64>> {
    let dims: [usize; 4] = w.shape().try_into().ok()?;
    if w.is_empty() {
        return None;
    }
    // Memory strides of each logical axis under the believed order.
    let mut stride = [0usize; 4];
    let mut s = 1;
    for &axis in order.iter().rev() {
        stride[axis] = s;
        s *= dims[axis];
    }
    let mut data = Vec::with_capacity(w.len());
    for a in 0..dims[0] {
        for b in 0..dims[1] {
            for c in 0..dims[2] {
                for d in 0..dims[3] {
                    let at = a * stride[0] + b * stride[1] + c * stride[2] + d * stride[3];
                    data.push(*w.data().get(at)?);
                }
            }
        }
    }
    Tensor::new(dims.to_vec(), data).ok()
}

/// A kernel mistake bound to the op it is named for (layout letters
/// differ between the forward ops and conv_transpose2d).
struct ForOp {
    mistake: KernelMistake,
    op: Op,
}

impl Mistake for ForOp {
    fn name(&self) -> String {
        match self.mistake {
            KernelMistake::Layout(order) => format!("weight read as {}", spell(&self.op, order)),
            m => m.name(),
        }
    }
    fn description(&self) -> String {
        match self.mistake {
            KernelMistake::Layout(order) => format!(
                "the weight's memory, stored {}, was indexed as if it were laid out {} \
                 (outermost axis first)",
                spell(&self.op, [0, 1, 2, 3]),
                spell(&self.op, order)
            ),
            m => m.description(),
        }
    }
    fn family(&self) -> Family {
        Family::Kernel
    }
    fn apply(&self, problem: &Problem<f64>, dtype: DType) -> Option<Mutated> {
        self.mistake.apply(problem, dtype)
    }
}

/// Every permutation of the 4 axes but the identity.
fn layouts() -> Vec<[usize; 4]> {
    let mut out = Vec::new();
    for a in 0..4 {
        for b in 0..4 {
            for c in 0..4 {
                for d in 0..4 {
                    let o = [a, b, c, d];
                    let distinct = (0..4).all(|x| o.contains(&x));
                    if distinct && o != [0, 1, 2, 3] {
                        out.push(o);
                    }
                }
            }
        }
    }
    out
}

/// The kernel mistakes worth trying on `p`.
pub fn mistakes(p: &Problem<f64>) -> Vec<Box<dyn Mistake>> {
    let has_kernel = matches!(
        p.op,
        Op::Conv2d(_) | Op::ConvTranspose2d(_) | Op::DeformConv2d(_) | Op::DepthwiseSeparable2d(_)
    );
    if !has_kernel {
        return Vec::new();
    }
    let mut out: Vec<KernelMistake> = Symmetry::ALL.map(KernelMistake::Symmetry).to_vec();
    if matches!(
        p.op,
        Op::Conv2d(_) | Op::ConvTranspose2d(_) | Op::DeformConv2d(_)
    ) {
        out.extend(layouts().into_iter().map(KernelMistake::Layout));
    }
    out.into_iter()
        .map(|mistake| {
            Box::new(ForOp {
                mistake,
                op: p.op.clone(),
            }) as Box<dyn Mistake>
        })
        .collect()
}
