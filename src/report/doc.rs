//! The report's text: a list of blocks written once as `index.md` and once
//! as a self-contained `index.html` (the SVG plots inlined, no external
//! file needed to view it).

use crate::error::{Error, Result};
use std::path::Path;

/// A piece of the index.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A heading of level 1-3.
    Heading(u8, String),
    /// A paragraph (backticks mark code).
    Para(String),
    /// A plot: `<stem>.png` in markdown, `<stem>.svg` inlined in HTML.
    Plot {
        /// The file stem.
        stem: String,
        /// Alt text.
        alt: String,
    },
    /// A table: header and rows.
    Table(Vec<String>, Vec<Vec<String>>),
    /// Links to files: (text, relative path).
    Links(Vec<(String, String)>),
    /// A preformatted line (the command).
    Code(String),
}

/// The blocks as Markdown.
pub fn markdown(blocks: &[Block]) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut s = String::new();
    for b in blocks {
        match b {
            Block::Heading(l, t) => s.push_str(&format!("{} {t}\n\n", "#".repeat(*l as usize))),
            Block::Para(t) => s.push_str(&format!("{t}\n\n")),
            Block::Plot { stem, alt } => {
                s.push_str(&format!("![{alt}]({stem}.png)\n\n([SVG]({stem}.svg))\n\n"))
            }
            Block::Table(head, rows) => {
                let line = |r: &[String]| {
                    format!(
                        "| {} |\n",
                        r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
                    )
                };
                s.push_str(&line(head));
                s.push_str(&format!("|{}\n", "---|".repeat(head.len())));
                for r in rows {
                    s.push_str(&line(r));
                }
                s.push('\n');
            }
            Block::Links(links) => {
                let items: Vec<String> = links.iter().map(|(t, p)| format!("[{t}]({p})")).collect();
                s.push_str(&format!("Data: {}\n\n", items.join(", ")));
            }
            Block::Code(c) => s.push_str(&format!("```\n{c}\n```\n\n")),
        }
    }
    s
}

/// HTML-escapes text.
pub fn escape(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Escaped text with `code` spans.
fn inline(t: &str) -> String {
    escape(t)
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_string()
            }
        })
        .collect()
}

/// The blocks as one HTML page; plots are read from `dir` and inlined.
pub fn html(blocks: &[Block], title: &str, dir: &Path) -> Result<String> {
    let mut s = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title>\n<style>body{{font-family:sans-serif;max-width:1150px;margin:auto;padding:1em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px;font-size:90%}}svg{{max-width:100%;height:auto}}code,pre{{background:#f4f4f4}}</style></head><body>\n",
        escape(title)
    );
    for b in blocks {
        match b {
            Block::Heading(l, t) => s.push_str(&format!("<h{l}>{}</h{l}>\n", inline(t))),
            Block::Para(t) => s.push_str(&format!("<p>{}</p>\n", inline(t))),
            Block::Plot { stem, alt } => {
                let path = dir.join(format!("{stem}.svg"));
                let svg =
                    std::fs::read_to_string(&path).map_err(|source| Error::Io { path, source })?;
                let body = svg.find("<svg").map_or(svg.as_str(), |i| &svg[i..]);
                s.push_str(&format!(
                    "<figure role=\"img\" aria-label=\"{}\">{body}</figure>\n",
                    escape(alt)
                ));
            }
            Block::Table(head, rows) => {
                s.push_str("<table><tr>");
                for h in head {
                    s.push_str(&format!("<th>{}</th>", inline(h)));
                }
                s.push_str("</tr>\n");
                for r in rows {
                    s.push_str("<tr>");
                    for c in r {
                        s.push_str(&format!("<td>{}</td>", inline(c)));
                    }
                    s.push_str("</tr>\n");
                }
                s.push_str("</table>\n");
            }
            Block::Links(links) => {
                let items: Vec<String> = links
                    .iter()
                    .map(|(t, p)| format!("<a href=\"{}\">{}</a>", escape(p), escape(t)))
                    .collect();
                s.push_str(&format!("<p>Data: {}</p>\n", items.join(", ")));
            }
            Block::Code(c) => s.push_str(&format!("<pre>{}</pre>\n", escape(c))),
        }
    }
    s.push_str("</body></html>\n");
    Ok(s)
}
