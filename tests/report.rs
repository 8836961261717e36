//! A tiny report into a temporary folder: every CSV parses, every plot is a
//! valid PNG or SVG of nonzero size, the index links what it names.

use convoracle::report::{run, Config, Size};
use std::path::PathBuf;

#[test]
fn tiny_report_writes_parsable_csvs_and_valid_images() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let config = Config {
        size: Size::Tiny,
        out: out.clone(),
        peers: None,
        shapes: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/shapes"),
        command: "convoracle report --tiny".into(),
    };
    let mut steps = 0;
    let written = run(&config, &mut |_, _, _| steps += 1).unwrap();
    assert!(steps > 3);
    let names: Vec<String> = written
        .files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    for needed in [
        "index.md",
        "index.html",
        "throughput.csv",
        "accuracy.csv",
        "mutants.csv",
        "accuracy.png",
        "accuracy.svg",
    ] {
        assert!(
            names.iter().any(|n| n == needed),
            "{needed} missing: {names:?}"
        );
    }
    let (mut pngs, mut svgs, mut csvs) = (0, 0, 0);
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.is_empty(), "{} is empty", path.display());
        match path.extension().and_then(|e| e.to_str()) {
            Some("png") => {
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
                // IHDR: width and height nonzero; IEND at the end.
                let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
                let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
                assert!(w > 100 && h > 100, "{}: {w}x{h}", path.display());
                assert_eq!(&bytes[bytes.len() - 8..bytes.len() - 4], b"IEND");
                pngs += 1;
            }
            Some("svg") => {
                let text = String::from_utf8(bytes).unwrap();
                assert!(
                    text.contains("<svg") && text.trim_end().ends_with("</svg>"),
                    "{}",
                    path.display()
                );
                assert!(text.contains("<text"), "{} has no text", path.display());
                svgs += 1;
            }
            Some("csv") => {
                let mut reader = csv::Reader::from_path(&path).unwrap();
                let columns = reader.headers().unwrap().len();
                assert!(columns >= 5, "{}", path.display());
                for record in reader.records() {
                    assert_eq!(record.unwrap().len(), columns, "{}", path.display());
                }
                csvs += 1;
            }
            _ => {}
        }
    }
    assert_eq!(pngs, svgs);
    assert!(pngs >= 3 && csvs >= 4, "{pngs} plots, {csvs} CSVs");
    let md = std::fs::read_to_string(out.join("index.md")).unwrap();
    for link in [
        "accuracy.png",
        "throughput.csv",
        "mutants.csv",
        "git commit",
    ] {
        assert!(md.contains(link), "index.md lacks {link}");
    }
    // Every PNG the index shows exists.
    for part in md.split("](").skip(1) {
        let target = part.split(')').next().unwrap();
        assert!(
            out.join(target).exists(),
            "index.md links a missing {target}"
        );
    }
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<svg") && html.ends_with("</html>\n"));
}

/// The crossover heat map draws (it runs for real only once `fft` exists),
/// and a peers CSV is read and drawn beside our bars.
#[test]
fn crossover_map_and_peer_bars_draw() {
    use convoracle::report::crossover::{figure, CrossoverCell};
    use convoracle::report::throughput::{network_figure, read_peers, ThroughputRow};
    let dir = tempfile::tempdir().unwrap();
    let (kernels, images) = ([3, 7, 15], [16, 64]);
    let mut cells = Vec::new();
    for k in kernels {
        for i in images {
            let ratio = (k * k) as f64 / 20.0;
            cells.push(CrossoverCell {
                kernel: k,
                image: i,
                direct_ms: Some(ratio),
                fft_ms: Some(1.0),
                ratio: Some(ratio),
                auto_choice: if ratio > 1.0 {
                    "fft overlap-save".into()
                } else {
                    "direct".into()
                },
            });
        }
    }
    let [svg, png] = figure(&cells, &kernels, &images)
        .save(dir.path(), "crossover")
        .unwrap();
    assert!(
        std::fs::metadata(&svg).unwrap().len() > 0 && std::fs::metadata(&png).unwrap().len() > 0
    );
    let peers = dir.path().join("peers.csv");
    std::fs::write(
        &peers,
        "name,op,backend,threads,dtype,median_ms,gflops,note\n\
         dcgan.t4,conv_transpose2d,torch,1,float32,1.5,4.2,\n\
         dcgan.t4,conv_transpose2d,onnxruntime,1,float32,,,not run\n",
    )
    .unwrap();
    let peers = read_peers(&peers).unwrap();
    assert_eq!(peers.len(), 2);
    let ours = ThroughputRow {
        network: "dilated_transposed".into(),
        name: "dcgan.t4".into(),
        op: "conv_transpose2d".into(),
        backend: "direct".into(),
        threads: 1,
        dtype: "float32".into(),
        median_ms: Some(0.3),
        gflops: Some(21.0),
        status: "ok".into(),
        note: String::new(),
    };
    let fig = network_figure("dilated_transposed", &[ours], &peers, Some(100.0), 2).unwrap();
    let [_, png] = fig.save(dir.path(), "peers").unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > 0);
    if let Ok(keep) = std::env::var("CONVORACLE_KEEP_PLOTS") {
        for name in ["crossover.png", "peers.png"] {
            std::fs::copy(
                dir.path().join(name),
                std::path::Path::new(&keep).join(name),
            )
            .unwrap();
        }
    }
}
