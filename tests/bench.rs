//! `bench`: the layer-shape files parse and build valid problems, FLOPs
//! follow the shapes README's rule, bad rows are located errors, and the
//! CLI writes the CSV it promises.

use convoracle::backend::{Backend, Reference};
use convoracle::bench::{
    bench, flops, parse_shapes, read_shapes, BenchOptions, Runs, ShapeRow, Status, CSV_COLUMNS,
};
use convoracle::reference::OpKind;
use convoracle::registry::by_name;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const HEADER: &str = "name,op,n,c_in,h,w,c_out,kh,kw,stride_h,stride_w,pad_h,pad_w,dilation_h,dilation_w,groups,output_padding_h,output_padding_w";

fn shapes_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/shapes")
}

fn all_rows() -> Vec<ShapeRow> {
    let mut files: Vec<PathBuf> = fs::read_dir(shapes_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "the six shapes files: {files:?}");
    files
        .iter()
        .flat_map(|f| read_shapes(f).unwrap_or_else(|e| panic!("{}: {e}", f.display())))
        .collect()
}

fn row(name: &str) -> ShapeRow {
    all_rows()
        .into_iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row `{name}`"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("convoracle-bench-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn convoracle(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_convoracle"))
        .args(args)
        .output()
        .expect("run the binary")
}

#[test]
fn every_shapes_file_parses_and_every_row_builds() {
    let rows = all_rows();
    let mut lines = 0;
    for entry in fs::read_dir(shapes_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            lines += fs::read_to_string(&path).unwrap().lines().count() - 1;
        }
    }
    assert_eq!(rows.len(), lines, "one problem per data line");
    let mut names = BTreeSet::new();
    for r in &rows {
        assert!(names.insert(&r.name), "duplicate name {}", r.name);
        assert_eq!(r.shape.kind(), r.op);
        let out = r
            .shape
            .output_shape()
            .unwrap_or_else(|e| panic!("{}: {e}", r.name));
        assert!(out.iter().all(|&d| d > 0), "{}: output {out:?}", r.name);
        assert!(flops(&r.shape) > 0.0, "{}", r.name);
        assert!(r.line >= 2);
    }
    let ops: BTreeSet<_> = rows.iter().map(|r| r.op.name()).collect();
    let every: BTreeSet<_> = OpKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(ops, every, "the files hold every op");
}

#[test]
fn geometry_of_the_special_ops() {
    use convoracle::reference::Role;
    // Transposed conv: weight [C, K/groups, kh, kw]; output (4-1)*2 - 2 + 4 = 8.
    let t = row("dcgan.t1").shape;
    assert_eq!(t.shapes[&Role::Weight], [512, 256, 4, 4]);
    assert_eq!(t.output_shape().unwrap(), [1, 256, 8, 8]);
    // output_padding 1: (32-1)*2 - 2 + 3 + 1 = 64.
    assert_eq!(
        row("unet.up3x3s2op1").shape.output_shape().unwrap(),
        [1, 64, 64, 64]
    );
    // Backward rows give the forward geometry.
    let bi = row("resnet50.l1.3x3.bwd_input").shape;
    assert_eq!(bi.shapes[&Role::GradOutput], [1, 64, 56, 56]);
    assert_eq!(bi.output_shape().unwrap(), [1, 64, 56, 56]);
    assert_eq!(
        row("resnet50.l1.3x3.bwd_weight")
            .shape
            .output_shape()
            .unwrap(),
        [64, 64, 3, 3]
    );
    // Deform v2 has a mask, v1 none.
    assert!(row("dcnv2_r50.c3.deform")
        .shape
        .shapes
        .contains_key(&Role::Mask));
    assert!(!row("dcnv1_r50.c5.deform")
        .shape
        .shapes
        .contains_key(&Role::Mask));
    assert_eq!(
        row("condconv_b0.k4.dw5").shape.shapes[&Role::Weight],
        [4, 240, 1, 5, 5]
    );
    // ASPP: 3 rates + 1x1 + pooling = 5 branches of 256 into the projection.
    let a = row("deeplabv3.aspp.os16").shape;
    assert_eq!(a.shapes[&Role::WeightProject], [256, 5 * 256, 1, 1]);
    assert!(a.shapes.contains_key(&Role::WeightPool));
    assert_eq!(
        row("inception_v3.7x1_1x7").shape.output_shape().unwrap(),
        [1, 192, 17, 17]
    );
}

#[test]
fn flops_of_known_rows() {
    let f = |name: &str| flops(&row(name).shape);
    assert_eq!(f("resnet50.l1.3x3"), 231_211_008.0);
    assert_eq!(f("resnet50.l1.3x3"), 2.0 * 64.0 * 56.0 * 56.0 * 64.0 * 9.0);
    // Stride 2: output 112x112 of conv1 (7x7, 3 -> 64).
    assert_eq!(f("resnet50.conv1"), 2.0 * 64.0 * 112.0 * 112.0 * 3.0 * 49.0);
    // Grouped: C/groups input channels per output.
    assert_eq!(
        f("alexnet.conv2g2"),
        2.0 * 256.0 * 27.0 * 27.0 * 48.0 * 25.0
    );
    assert_eq!(f("mbv2.dw32"), 2.0 * 32.0 * 112.0 * 112.0 * 9.0);
    // Backward passes count as the forward conv.
    assert_eq!(f("resnet50.l1.3x3.bwd_input"), 231_211_008.0);
    assert_eq!(f("resnet50.l1.3x3.bwd_weight"), 231_211_008.0);
    // Transposed: 2*N*C*(K/groups)*kh*kw*H*W.
    assert_eq!(f("dcgan.t1"), 2.0 * 512.0 * 256.0 * 16.0 * 16.0);
    assert_eq!(f("dcgan.t1"), 67_108_864.0);
    assert_eq!(f("unet.up3x3s2op1"), 2.0 * 128.0 * 64.0 * 9.0 * 32.0 * 32.0);
    // Deform: the conv only.
    assert_eq!(
        f("dcnv2_r50.c3.deform"),
        2.0 * 128.0 * 28.0 * 28.0 * 128.0 * 9.0
    );
    // Dynamic: aggregation N*E*K*C*kh*kw plus the conv.
    assert_eq!(
        f("condconv_b0.k8.3x3"),
        2.0 * (4.0 * 8.0 * 64.0 * 64.0 * 9.0 + 4.0 * 64.0 * 28.0 * 28.0 * 64.0 * 9.0)
    );
    // Depthwise separable: depthwise + pointwise.
    assert_eq!(
        f("mobilenet_v1.dwsep.14"),
        2.0 * (512.0 * 196.0 * 9.0 + 512.0 * 196.0 * 512.0)
    );
    assert_eq!(f("mobilenet_v1.dwsep.14"), 104_566_784.0);
    // Spatially separable: 7x1 (768 -> 160) then 1x7 (160 -> 192), 17x17 throughout.
    assert_eq!(
        f("inception_v3.7x1_1x7"),
        2.0 * (160.0 * 289.0 * 768.0 * 7.0 + 192.0 * 289.0 * 160.0 * 7.0)
    );
    // ASPP: 1x1, three 3x3, pooling (mean and 1x1), projection of 5 branches.
    let hw = 33.0 * 33.0;
    assert_eq!(
        f("deeplabv3.aspp.os16.small"),
        2.0 * (256.0 * hw * 512.0
            + 3.0 * 256.0 * hw * 512.0 * 9.0
            + (512.0 * hw + 256.0 * 512.0)
            + 256.0 * hw * 5.0 * 256.0)
    );
}

/// Parses one data line under the common header; the error's text.
fn bad(line: &str) -> String {
    let text = format!("{HEADER}\n{line}\n");
    parse_shapes(text.as_bytes(), Path::new("bad.csv"))
        .expect_err(line)
        .to_string()
}

#[test]
fn bad_rows_name_file_line_and_column() {
    let ok = "x,conv2d,1,3,8,8,4,3,3,1,1,1,1,1,1,1,0,0";
    assert!(parse_shapes(format!("{HEADER}\n{ok}\n").as_bytes(), "f.csv".as_ref()).is_ok());
    let cases = [
        (
            "x,conv3d,1,3,8,8,4,3,3,1,1,1,1,1,1,1,0,0",
            "column `op`: unknown op `conv3d`",
        ),
        (
            "x,conv2d,1,3,8,8,4,three,3,1,1,1,1,1,1,1,0,0",
            "column `kh`: `three` is not a whole number",
        ),
        (
            "x,conv2d,1,3,8,8,4,3,3,0,1,1,1,1,1,1,0,0",
            "column `stride_h`: must be at least 1",
        ),
        (
            "x,conv2d,1,3,8,8,4,3,3,1,1,1,1,1,1,2,0,0",
            "column `groups`: 2 does not divide",
        ),
        (
            "x,conv2d,1,3,8,8,4,3,3,1,1,1,1,1,1,1,1,0",
            "column `output_padding_h`",
        ),
        (
            "x,conv2d,1,3,8,8,4,3,3,1,1,-1,1,1,1,1,0,0",
            "column `pad_h`",
        ),
        ("x,conv2d,1,3,2,2,4,5,5,1,1,0,0,1,1,1,0,0", "line 2 (`x`)"),
        ("x,conv2d,1,3,8,8,4,3,3,1,1,1,1,1,1,1,0", "line 2"),
    ];
    for (line, expected) in cases {
        let msg = bad(line);
        assert!(msg.starts_with("bad.csv: line 2"), "{line}: {msg}");
        assert!(msg.contains(expected), "{line}: `{msg}` lacks `{expected}`");
    }
    let advanced = format!("{HEADER},offset_groups,mask,experts,rates,mid_channels");
    let adv = |line: &str| {
        parse_shapes(format!("{advanced}\n{line}\n").as_bytes(), "a.csv".as_ref())
            .expect_err(line)
            .to_string()
    };
    assert!(adv("d,deform_conv2d,1,4,8,8,4,3,3,1,1,1,1,1,1,1,0,0,,1,,,")
        .contains("column `offset_groups`"));
    assert!(
        adv("d,deform_conv2d,1,4,8,8,4,3,3,1,1,1,1,1,1,1,0,0,1,2,,,").contains("column `mask`")
    );
    assert!(adv("a,aspp,1,4,8,8,4,3,3,1,1,0,0,1,1,1,0,0,,,,6 x,4").contains("column `rates`"));
    assert!(adv("c,conv2d,1,4,8,8,4,3,3,1,1,1,1,1,1,1,0,0,,,4,,").contains("column `experts`"));
    assert!(
        adv("s,depthwise_separable2d,1,4,8,8,4,3,3,1,1,1,1,1,1,1,0,0,,,,,")
            .contains("column `groups`")
    );
    let header = parse_shapes("name,op,n\n".as_bytes(), "h.csv".as_ref()).unwrap_err();
    assert!(
        header
            .to_string()
            .contains("h.csv: line 1: missing column `c_in`"),
        "{header}"
    );
    let typo = format!("{HEADER},expert\n");
    let typo = parse_shapes(typo.as_bytes(), "t.csv".as_ref()).unwrap_err();
    assert!(
        typo.to_string().contains("unknown column `expert`"),
        "{typo}"
    );
}

/// A backend that supports nothing: every row is skipped with its reason.
struct Nothing;

impl Backend for Nothing {
    fn name(&self) -> &str {
        "nothing"
    }
    fn supports(
        &self,
        _: &convoracle::ProblemShape,
        _: convoracle::reference::DType,
    ) -> Result<(), convoracle::Unsupported> {
        Err("anything at all".into())
    }
    fn run_f32(
        &self,
        _: &convoracle::reference::Problem<f32>,
    ) -> convoracle::Result<convoracle::reference::Tensor<f32>> {
        unreachable!("supports() refuses everything")
    }
    fn run_f64(
        &self,
        _: &convoracle::reference::Problem<f64>,
    ) -> convoracle::Result<convoracle::reference::Tensor<f64>> {
        unreachable!("supports() refuses everything")
    }
}

#[test]
fn unsupported_rows_and_slow_reference_rows_are_skipped() {
    let rows = vec![row("resnet50.l1.3x3"), row("dcgan.t4")];
    let direct = by_name("direct").unwrap();
    let options = BenchOptions {
        runs: Runs {
            warmup: 0,
            repeats: 1,
            budget: Duration::from_secs(4),
        },
        ..BenchOptions::default()
    };
    let results = bench(
        &rows,
        &[&Reference as &dyn Backend, direct.as_ref(), &Nothing],
        &options,
        |_| {},
    );
    assert_eq!(results.len(), 6);
    // resnet50.l1.3x3 is ~115M multiply-adds: ~14 s estimated > 4 s.
    assert!(matches!(&results[0].status, Status::Skipped(why) if why.contains("too slow")));
    assert!(results[0].note.contains("estimated"), "{}", results[0].note);
    for r in [&results[2], &results[5]] {
        assert!(
            matches!(&r.status, Status::Skipped(why) if why.contains("not supported: anything at all")),
            "{r:?}"
        );
        assert_eq!(r.gflops, None);
    }
    // The direct backend times both rows; dcgan.t4 (64 -> 3 channels,
    // 32x32 -> 64x64) is small enough for the reference too.
    for r in [&results[1], &results[3], &results[4]] {
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert!(r.median_ms.unwrap() >= r.min_ms.unwrap());
        assert!(r.gflops.unwrap() > 0.0);
    }
}

#[test]
fn cli_times_a_tiny_file_and_writes_the_csv() {
    let dir = scratch("tiny");
    let shapes = dir.join("tiny.csv");
    fs::write(
        &shapes,
        format!(
            "{HEADER}\ntiny.3x3,conv2d,1,3,8,8,4,3,3,1,1,1,1,1,1,1,0,0\n\
             tiny.up,conv_transpose2d,1,4,4,4,2,4,4,2,2,1,1,1,1,1,0,0\n"
        ),
    )
    .unwrap();
    let out = dir.join("out.csv");
    let output = convoracle(&[
        "bench",
        "--shapes",
        shapes.to_str().unwrap(),
        "--backend",
        "reference,direct",
        "--repeats",
        "1",
        "--csv",
        out.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("cpu: "), "{stdout}");
    assert!(stdout.contains("fma peak"), "{stdout}");
    assert!(stdout.contains("%peak"), "{stdout}");
    assert!(stdout.contains("tiny.3x3"), "{stdout}");
    let mut reader = csv::Reader::from_path(&out).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, CSV_COLUMNS);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 4, "two rows on two backends");
    assert_eq!(&records[0][0], "tiny.3x3");
    assert_eq!(&records[0][2], "reference");
    assert_eq!(&records[0][8], "ok");
    assert!(records[0][7].parse::<f64>().unwrap() > 0.0);
    assert_eq!(&records[1][2], "direct");
    assert_eq!(&records[1][8], "ok", "{:?}", &records[1]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn cli_rejects_a_malformed_file_in_one_line() {
    let dir = scratch("malformed");
    let shapes = dir.join("broken.csv");
    fs::write(
        &shapes,
        format!(
            "{HEADER}\nok,conv2d,1,3,8,8,4,3,3,1,1,1,1,1,1,1,0,0\n\
             broken,conv2d,1,3,8,8,4,3,x,1,1,1,1,1,1,1,0,0\n"
        ),
    )
    .unwrap();
    let output = convoracle(&["bench", "--shapes", shapes.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains("broken.csv: line 3, column `kw`"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "nothing printed before the check");

    let missing = convoracle(&["bench", "--shapes", dir.join("none.csv").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    let unknown = convoracle(&[
        "bench",
        "--shapes",
        shapes.to_str().unwrap(),
        "--backend",
        "fastest",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown backend `fastest`"));
    let _ = fs::remove_dir_all(&dir);
}
