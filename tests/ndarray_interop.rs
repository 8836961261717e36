//! The `ndarray` feature: conversions without copying where the layout
//! allows, and `NdConv2d` (a function over ndarray views as a Backend)
//! checked by the suite. `cargo test --features ndarray --test ndarray_interop`.
#![cfg(feature = "ndarray")]

use convoracle::backend::Backend;
use convoracle::ndarray_interop::{
    from_array, from_owned_array, into_array, view, view1, view4, NdConv2d,
};
use convoracle::problem_features::Feature;
use convoracle::reference::{Conv2dParams, DType, OpKind, Tensor};
use convoracle::suite::{DataMode, Suite};
use convoracle::Unsupported;
use ndarray::{s, Array4, ArrayView1, ArrayView4, Axis};
use std::ops::{Add, Mul};

/// The textbook conv2d (groups, stride, dilation, explicit zero padding, bias).
fn textbook<T>(
    x: ArrayView4<T>,
    w: ArrayView4<T>,
    b: Option<ArrayView1<T>>,
    p: &Conv2dParams,
) -> Array4<T>
where
    T: Copy + Default + Add<Output = T> + Mul<Output = T>,
{
    let g = &p.geometry;
    let pad = g
        .padding
        .explicit()
        .expect("the adapter makes padding explicit");
    let (n, _, h, wd) = x.dim();
    let (k, cg, kh, kw) = w.dim();
    let size = |len: usize, before: i64, after: i64, kernel: usize, s: usize, d: usize| {
        let span = len as i64 + before + after - (d * (kernel - 1) + 1) as i64;
        if span < 0 {
            0
        } else {
            span as usize / s + 1
        }
    };
    let ho = size(h, pad.top, pad.bottom, kh, g.stride[0], g.dilation[0]);
    let wo = size(wd, pad.left, pad.right, kw, g.stride[1], g.dilation[1]);
    let kg = k / g.groups;
    Array4::from_shape_fn((n, k, ho, wo), |(ni, ki, oy, ox)| {
        let mut sum = b.map_or(T::default(), |b| b[ki]);
        for ci in 0..cg {
            for i in 0..kh {
                for j in 0..kw {
                    let y = (oy * g.stride[0] + i * g.dilation[0]) as i64 - pad.top;
                    let xx = (ox * g.stride[1] + j * g.dilation[1]) as i64 - pad.left;
                    if (0..h as i64).contains(&y) && (0..wd as i64).contains(&xx) {
                        let cin = (ki / kg) * cg + ci;
                        sum = sum + x[[ni, cin, y as usize, xx as usize]] * w[[ki, ci, i, j]];
                    }
                }
            }
        }
        sum
    })
}

#[test]
fn a_tensor_is_viewed_without_copying() {
    let t = Tensor::new(vec![1, 2, 2, 3], (0..12).map(|v| v as f32).collect()).unwrap();
    let a = view4(&t).unwrap();
    assert_eq!(a.as_ptr(), t.data().as_ptr());
    assert_eq!(a[[0, 1, 1, 2]], 11.0);
    assert_eq!(view(&t).unwrap().shape(), &[1, 2, 2, 3]);
    let bias = Tensor::new(vec![3], vec![1.0f64, 2.0, 3.0]).unwrap();
    assert_eq!(view1(&bias).unwrap()[2], 3.0);
    assert!(view1(&t).is_err());
    assert!(view4(&bias).is_err());
}

#[test]
fn owned_buffers_move_both_ways() {
    let t = Tensor::new(vec![2, 3], vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let ptr = t.data().as_ptr();
    let a = into_array(t).unwrap();
    assert_eq!(a.as_ptr(), ptr);
    let back = from_owned_array(a).unwrap();
    assert_eq!(back.data().as_ptr(), ptr);
    assert_eq!(back.shape(), &[2, 3]);
}

#[test]
fn other_layouts_are_copied_in_logical_order() {
    let a = Array4::from_shape_fn((1, 2, 2, 2), |(_, c, h, w)| (c * 4 + h * 2 + w) as f32);
    // A permuted view (NHWC order in memory) comes back in C order.
    let nhwc = a.view().permuted_axes([0, 2, 3, 1]);
    let t = from_array(&nhwc).unwrap();
    assert_eq!(t.shape(), &[1, 2, 2, 2]);
    assert_eq!(t.data(), &[0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0]);
    // An owned array that is a window into a larger buffer.
    let window = a.clone().slice_move(s![.., 1.., .., ..]);
    assert_eq!(
        from_owned_array(window).unwrap().data(),
        &[4.0, 5.0, 6.0, 7.0]
    );
    // A Fortran-order owned array.
    let mut f = a.clone();
    f.invert_axis(Axis(3));
    assert_eq!(from_owned_array(f).unwrap().data()[..2], [1.0, 0.0]);
    // Empty arrays.
    let empty = Array4::<f32>::zeros((0, 3, 2, 2));
    assert_eq!(from_owned_array(empty).unwrap().shape(), &[0, 3, 2, 2]);
}

#[test]
fn a_textbook_function_conforms_in_both_dtypes() {
    let backend = NdConv2d::new("textbook")
        .f32(textbook::<f32>)
        .f64(textbook::<f64>);
    let report = Suite::new().ops(&[OpKind::Conv2d]).cases(36).run(&backend);
    report.assert_conforms();
    assert!(report.passed() > 50, "{report}");
    // What it was told it lacks is listed, not failed.
    assert!(
        report.unsupported_reasons.contains_key("padding_mode"),
        "{report}"
    );
    assert!(
        report.unsupported_reasons.contains_key("flip_kernel"),
        "{report}"
    );
}

#[test]
fn a_flipped_kernel_is_diagnosed() {
    let flipped =
        |x: ArrayView4<f32>, w: ArrayView4<f32>, b: Option<ArrayView1<f32>>, p: &Conv2dParams| {
            let w = w.slice(s![.., .., ..;-1, ..;-1]);
            textbook(x, w, b, p)
        };
    let backend = NdConv2d::new("flipped").f32(flipped);
    let report = Suite::new()
        .ops(&[OpKind::Conv2d])
        .dtypes(&[DType::F32])
        .data(&[DataMode::Integer])
        .catalogue(false)
        .cases(4)
        .run(&backend);
    assert!(report.failed() > 0, "{report}");
    assert!(report.to_string().contains("flipped"), "{report}");
}

#[test]
fn panics_and_errors_are_failures_not_crashes() {
    let panicking = NdConv2d::new("panics").f32(|_, _, _, _| -> Array4<f32> { panic!("boom") });
    let report = Suite::new()
        .ops(&[OpKind::Conv2d])
        .dtypes(&[DType::F32])
        .catalogue(false)
        .cases(3)
        .max_shrink_iters(16)
        .run(&panicking);
    assert_eq!(report.passed(), 0);
    assert!(report.failed() > 0);
    assert!(report.failures.iter().all(|f| f.panicked), "{report}");

    let erring = NdConv2d::new("errs").try_f64(|_, _, _, _| Err::<Array4<f64>, _>("not today"));
    let report = Suite::new()
        .ops(&[OpKind::Conv2d])
        .dtypes(&[DType::F64])
        .catalogue(false)
        .cases(3)
        .max_shrink_iters(16)
        .run(&erring);
    assert!(report.failed() > 0);
    assert!(
        report
            .failures
            .iter()
            .all(|f| f.detail.contains("not today")),
        "{report}"
    );
}

#[test]
fn what_the_function_lacks_is_unsupported() {
    let only_f32 = NdConv2d::new("f32-only")
        .f32(textbook::<f32>)
        // Replaces the default list: negative padding is tested now.
        .lacking(&[Feature::Groups, Feature::PaddingMode, Feature::FlipKernel])
        .refusing(|p, _| match p.shapes.values().any(|s| s.contains(&0)) {
            true => Err(Unsupported::new("empty tensors")),
            false => Ok(()),
        });
    let report = Suite::new().ops(&[OpKind::Conv2d]).cases(12).run(&only_f32);
    report.assert_conforms();
    assert!(
        report.unsupported_reasons.contains_key("float64"),
        "{report}"
    );
    assert!(
        report.unsupported_reasons.contains_key("groups"),
        "{report}"
    );
    assert!(
        report.unsupported_reasons.contains_key("empty tensors"),
        "{report}"
    );
    assert!(only_f32
        .supports(&conv2d_with_groups(), DType::F32)
        .is_err());
}

fn conv2d_with_groups() -> convoracle::ProblemShape {
    use convoracle::reference::{ConvGeometry, Op, Role};
    let params = Conv2dParams {
        geometry: ConvGeometry {
            groups: 2,
            ..Default::default()
        },
        ..Default::default()
    };
    convoracle::ProblemShape::new(Op::Conv2d(params))
        .with(Role::Input, &[1, 2, 3, 3])
        .with(Role::Weight, &[2, 1, 1, 1])
}
