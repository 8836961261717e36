//! What `auto` would choose on every row of shapes files, with its two
//! estimates and the rates it measured, without running the rows: the
//! input to compare the cost model with `bench`'s measured times
//! (`benches/auto_accuracy.py` joins the two).
//!
//! ```text
//! cargo run --release --example auto_choices -- benches/shapes/*.csv > choices.csv
//! ```

use convoracle::auto::{Auto, Chosen};
use convoracle::backend::Context;
use convoracle::bench::read_shapes;
use convoracle::reference::DType;
use std::path::Path;

fn main() -> convoracle::Result<()> {
    let auto = Auto::new();
    let dtype = match std::env::var("DTYPE").as_deref() {
        Ok("float64") => DType::F64,
        _ => DType::F32,
    };
    eprintln!("rates: {:?}", auto.rates(dtype)?);
    println!("name,chosen,direct_ms,fft_ms");
    let context = Context::new();
    for file in std::env::args().skip(1) {
        for row in read_shapes(Path::new(&file))? {
            let ms = |s: Option<f64>| s.map_or(String::new(), |s| format!("{:.4}", s * 1e3));
            match auto.choose(&row.shape, dtype, &context) {
                Ok(c) => println!(
                    "{},{},{},{}",
                    row.name,
                    if c.chosen == Chosen::Fft {
                        "fft"
                    } else {
                        "direct"
                    },
                    ms(c.direct_seconds),
                    ms(c.fft_seconds)
                ),
                Err(e) => println!("{},error: {e},,", row.name),
            }
        }
    }
    Ok(())
}
