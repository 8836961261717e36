//! Layer-shape files (`benches/shapes/*.csv`, their columns described in
//! `benches/shapes/README.md`): one real layer a row, turned into the
//! [`ProblemShape`] of its op with the suite's shape builders.
//!
//! Per op: conv_transpose2d rows give the transposed conv's own geometry
//! (`c_in` its input channels, weight `[C, K/groups, kh, kw]`,
//! `output_padding`); the backward rows give the forward conv's; for
//! depthwise_separable2d `groups` must equal `c_in` (multiplier 1); for
//! spatially_separable2d `groups` is 1 and `mid_channels` is M; aspp reads
//! `rates` and `mid_channels` (B), includes the pooling branch and ignores
//! the kernel, stride, padding and dilation columns (3x3, padding = dilation
//! = rate). Columns an op does not use must be empty or 0.
//!
//! A bad row (an unknown op, a number that is not one, a column the op
//! needs left empty, a geometry that does not validate) is an
//! [`Error::Case`] naming the file, the line and the column, never a panic.
//!
//! ```
//! use convoracle::bench::parse_shapes;
//! let text = "name,op,n,c_in,h,w,c_out,kh,kw,stride_h,stride_w,pad_h,pad_w,dilation_h,dilation_w,groups,output_padding_h,output_padding_w\n\
//!             tiny,conv2d,1,3,8,8,4,3,3,1,1,1,1,1,1,1,0,0\n";
//! let rows = parse_shapes(text.as_bytes(), "tiny.csv".as_ref()).unwrap();
//! assert_eq!(rows[0].name, "tiny");
//! assert_eq!(rows[0].shape.output_shape().unwrap(), [1, 4, 8, 8]);
//! ```

use crate::error::{Error, Result};
use crate::problem_shape::ProblemShape;
use crate::suite::build;
use convoracle_reference::{
    Conv2dParams, ConvGeometry, ConvTranspose2dParams, OpKind, Padding2d, PaddingSpec,
};
use std::path::{Path, PathBuf};

/// The columns every shapes file has, in this order.
pub const COMMON_COLUMNS: [&str; 18] = [
    "name",
    "op",
    "n",
    "c_in",
    "h",
    "w",
    "c_out",
    "kh",
    "kw",
    "stride_h",
    "stride_w",
    "pad_h",
    "pad_w",
    "dilation_h",
    "dilation_w",
    "groups",
    "output_padding_h",
    "output_padding_w",
];

/// The optional columns of the advanced ops (empty where an op does not use them).
pub const EXTRA_COLUMNS: [&str; 5] = ["offset_groups", "mask", "experts", "rates", "mid_channels"];

/// One row of a shapes file: a named layer and its problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeRow {
    /// The file the row came from.
    pub file: PathBuf,
    /// Its line in the file (1 is the header).
    pub line: u64,
    /// The layer's name (`resnet50.l1.3x3`).
    pub name: String,
    /// The op.
    pub op: OpKind,
    /// The op with the shape of every tensor (no biases: the layers of the
    /// files are followed by a normalisation).
    pub shape: ProblemShape,
}

/// Reads and builds every row of a shapes file.
pub fn read_shapes(path: &Path) -> Result<Vec<ShapeRow>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_shapes(&bytes[..], path)
}

/// Parses a shapes file's text; `path` names it in errors and in the rows.
pub fn parse_shapes(text: impl std::io::Read, path: &Path) -> Result<Vec<ShapeRow>> {
    let fail =
        |line: u64, reason: String| Error::case(path, None, format!("line {line}: {reason}"));
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(text);
    let headers = reader
        .headers()
        .map_err(|e| fail(1, format!("not a CSV header: {e}")))?
        .clone();
    let columns: Vec<String> = headers.iter().map(str::to_string).collect();
    for column in &columns {
        if !COMMON_COLUMNS.contains(&column.as_str()) && !EXTRA_COLUMNS.contains(&column.as_str()) {
            return Err(fail(1, format!("unknown column `{column}`")));
        }
    }
    if let Some(missing) = COMMON_COLUMNS
        .iter()
        .find(|c| !columns.iter().any(|h| h == *c))
    {
        return Err(fail(1, format!("missing column `{missing}`")));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            fail(line, format!("malformed CSV: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let fields = Fields {
            columns: &columns,
            record: &record,
            file: path,
            line,
        };
        rows.push(build_row(&fields)?);
    }
    Ok(rows)
}

/// One record with its column names, for typed lookups with located errors.
struct Fields<'a> {
    columns: &'a [String],
    record: &'a csv::StringRecord,
    file: &'a Path,
    line: u64,
}

impl Fields<'_> {
    fn error(&self, column: &str, reason: impl std::fmt::Display) -> Error {
        Error::case(
            self.file,
            None,
            format!("line {}, column `{column}`: {reason}", self.line),
        )
    }

    /// The text of a column ("" when the file does not have it).
    fn text(&self, column: &str) -> &str {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.record.get(i))
            .unwrap_or("")
    }

    /// A required whole number.
    fn size(&self, column: &str) -> Result<usize> {
        let text = self.text(column);
        if text.is_empty() {
            return Err(self.error(column, "empty, a whole number is needed"));
        }
        text.parse()
            .map_err(|_| self.error(column, format!("`{text}` is not a whole number")))
    }

    /// A required number of at least 1.
    fn positive(&self, column: &str) -> Result<usize> {
        match self.size(column)? {
            0 => Err(self.error(column, "must be at least 1")),
            v => Ok(v),
        }
    }

    /// A padding amount (bounded so that it fits the geometry's i64).
    fn padding(&self, column: &str) -> Result<i64> {
        let v = self.size(column)?;
        i64::try_from(v)
            .ok()
            .filter(|&p| p <= 1 << 40)
            .ok_or_else(|| self.error(column, format!("{v} is too large")))
    }

    /// Checks that a column the op does not use is empty or 0.
    fn unused(&self, column: &str, op: OpKind) -> Result<()> {
        match self.text(column) {
            "" | "0" => Ok(()),
            other => Err(self.error(
                column,
                format!("`{other}` given, but `{}` does not use it", op.name()),
            )),
        }
    }

    /// `[h, w]` from `<prefix>_h` and `<prefix>_w`.
    fn pair(&self, prefix: &str, positive: bool) -> Result<[usize; 2]> {
        let get = |axis: &str| {
            let column = format!("{prefix}_{axis}");
            if positive {
                self.positive(&column)
            } else {
                self.size(&column)
            }
        };
        Ok([get("h")?, get("w")?])
    }
}

/// The numbers every op reads.
struct Common {
    n: usize,
    c: usize,
    size: [usize; 2],
    k: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: Padding2d,
    dilation: [usize; 2],
    groups: usize,
}

impl Common {
    fn read(f: &Fields) -> Result<Self> {
        Ok(Common {
            n: f.positive("n")?,
            c: f.positive("c_in")?,
            size: [f.positive("h")?, f.positive("w")?],
            k: f.positive("c_out")?,
            kernel: [f.positive("kh")?, f.positive("kw")?],
            stride: f.pair("stride", true)?,
            padding: Padding2d::symmetric(f.padding("pad_h")?, f.padding("pad_w")?),
            dilation: f.pair("dilation", true)?,
            groups: f.positive("groups")?,
        })
    }

    fn geometry(&self, groups: usize) -> ConvGeometry {
        ConvGeometry {
            stride: self.stride,
            padding: PaddingSpec::Explicit(self.padding),
            dilation: self.dilation,
            groups,
        }
    }

    fn conv(&self) -> Conv2dParams {
        Conv2dParams {
            geometry: self.geometry(self.groups),
            ..Conv2dParams::default()
        }
    }

    fn input(&self) -> [usize; 4] {
        [self.n, self.c, self.size[0], self.size[1]]
    }

    /// The forward weight `[K, C/g, kh, kw]`.
    fn weight(&self) -> [usize; 4] {
        [self.k, self.c / self.groups, self.kernel[0], self.kernel[1]]
    }

    /// Checks that the groups divide both channel counts.
    fn check_groups(&self, f: &Fields) -> Result<()> {
        if !self.c.is_multiple_of(self.groups) || !self.k.is_multiple_of(self.groups) {
            return Err(f.error(
                "groups",
                format!(
                    "{} does not divide c_in = {} and c_out = {}",
                    self.groups, self.c, self.k
                ),
            ));
        }
        Ok(())
    }
}

/// Builds the problem of one row and validates it.
fn build_row(f: &Fields) -> Result<ShapeRow> {
    let name = f.text("name").to_string();
    if name.is_empty() {
        return Err(f.error("name", "empty"));
    }
    let op_text = f.text("op");
    let op = OpKind::from_name(op_text).ok_or_else(|| {
        let known: Vec<_> = OpKind::ALL.iter().map(|k| k.name()).collect();
        f.error(
            "op",
            format!("unknown op `{op_text}` (known: {})", known.join(", ")),
        )
    })?;
    let c = Common::read(f)?;
    let output_padding = f.pair("output_padding", false)?;
    if op != OpKind::ConvTranspose2d {
        f.unused("output_padding_h", op)?;
        f.unused("output_padding_w", op)?;
    }
    let uses = |column: &str| {
        matches!(
            (op, column),
            (OpKind::DeformConv2d, "offset_groups" | "mask")
                | (OpKind::DynamicConv2d, "experts")
                | (OpKind::Aspp, "rates" | "mid_channels")
                | (OpKind::SpatiallySeparable2d, "mid_channels")
        )
    };
    for column in EXTRA_COLUMNS {
        if !uses(column) {
            f.unused(column, op)?;
        }
    }
    let shape = match op {
        OpKind::Conv2d => {
            c.check_groups(f)?;
            build::conv2d(c.conv(), c.input(), c.weight(), false)
        }
        OpKind::ConvTranspose2d => {
            c.check_groups(f)?;
            let p = ConvTranspose2dParams {
                stride: c.stride,
                padding: c.padding,
                dilation: c.dilation,
                groups: c.groups,
                output_padding,
                output_size: None,
            };
            let weight = [c.c, c.k / c.groups, c.kernel[0], c.kernel[1]];
            build::transpose(p, c.input(), weight, false)
        }
        OpKind::Conv2dBackwardInput => {
            c.check_groups(f)?;
            build::backward_input(c.conv(), c.n, c.size, c.weight())
        }
        OpKind::Conv2dBackwardWeight => {
            c.check_groups(f)?;
            build::backward_weight(c.conv(), c.input(), c.k, c.kernel)
        }
        OpKind::DeformConv2d => {
            c.check_groups(f)?;
            let offset_groups = f.positive("offset_groups")?;
            let mask = match f.text("mask") {
                "0" => false,
                "1" => true,
                other => return Err(f.error("mask", format!("`{other}`: 0 or 1 is needed"))),
            };
            build::deform(
                c.geometry(c.groups),
                c.input(),
                c.weight(),
                offset_groups,
                mask,
                false,
            )
        }
        OpKind::DynamicConv2d => {
            c.check_groups(f)?;
            let [k, cg, kh, kw] = c.weight();
            let experts = f.positive("experts")?;
            build::dynamic(
                c.geometry(c.groups),
                c.input(),
                [experts, k, cg, kh, kw],
                false,
            )
        }
        OpKind::DepthwiseSeparable2d => {
            if c.groups != c.c {
                return Err(f.error(
                    "groups",
                    format!("{} must equal c_in = {} (depthwise step)", c.groups, c.c),
                ));
            }
            // The op's own `groups` is 1: the depthwise step's groups are implied.
            build::depthwise_separable(c.geometry(1), c.input(), 1, c.k, c.kernel, [false; 2])
        }
        OpKind::SpatiallySeparable2d => {
            if c.groups != 1 {
                return Err(f.error("groups", format!("{}: must be 1", c.groups)));
            }
            let m = f.positive("mid_channels")?;
            build::spatially_separable(c.geometry(1), c.input(), m, c.k, c.kernel, [false; 2])
        }
        OpKind::Aspp => {
            let rates = parse_rates(f)?;
            let b = f.positive("mid_channels")?;
            build::aspp(&rates, c.input(), b, c.k, true)
        }
    };
    shape
        .output_shape()
        .map_err(|e| Error::case(f.file, None, format!("line {} (`{name}`): {e}", f.line)))?;
    Ok(ShapeRow {
        file: f.file.to_path_buf(),
        line: f.line,
        name,
        op,
        shape,
    })
}

/// ASPP's rates: whole numbers >= 1, space separated, at least one.
fn parse_rates(f: &Fields) -> Result<Vec<usize>> {
    let text = f.text("rates");
    let rates = text
        .split_whitespace()
        .map(|r| {
            r.parse::<usize>()
                .ok()
                .filter(|r| (1..=1 << 20).contains(r))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| f.error("rates", format!("`{text}` is not a list of rates >= 1")))?;
    if rates.is_empty() {
        return Err(f.error("rates", "empty, space-separated dilation rates are needed"));
    }
    Ok(rates)
}
