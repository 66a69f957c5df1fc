//! Spreadsheet exports: one typed table written either as a CSV that Dutch
//! spreadsheets open as they are (semicolon, decimal comma, UTF-8 with a
//! BOM, CRLF, dates dd-mm-jjjj) or as an .xlsx workbook with typed cells
//! (numbers as numbers, dates as dates, amounts in euros) and a bold,
//! frozen header row.

use anyhow::{Context, Result};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook};

/// What a column holds, which decides how a cell is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    /// A decimal number (hours).
    Decimal,
    /// An amount in cents, written in euros.
    Euro,
    Date,
}

/// One cell of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Integer(i64),
    Decimal(f64),
    Cents(i64),
    Date(NaiveDate),
    Empty,
}

impl Cell {
    /// An ISO date (or timestamp) as a date cell; empty when it is none.
    pub fn date(iso: Option<&str>) -> Cell {
        iso.and_then(|s| s.get(..10))
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map_or(Cell::Empty, Cell::Date)
    }

    pub fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    /// Optional text, empty when missing.
    pub fn opt(s: Option<&str>) -> Cell {
        s.map_or(Cell::Empty, |s| Cell::Text(s.to_string()))
    }

    /// The cell as CSV text, the Dutch way.
    fn csv(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Integer(n) => n.to_string(),
            Cell::Decimal(x) => super::format::number(*x, 2),
            Cell::Cents(c) => {
                let sign = if *c < 0 { "-" } else { "" };
                let a = c.unsigned_abs();
                format!("{sign}{},{:02}", a / 100, a % 100)
            }
            Cell::Date(d) => super::format::date(*d),
            Cell::Empty => String::new(),
        }
    }
}

/// A column: its Dutch header, what it holds and its width in characters.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub kind: Kind,
    pub width: u16,
}

pub const fn col(header: &'static str, kind: Kind, width: u16) -> Column {
    Column {
        header,
        kind,
        width,
    }
}

/// A table to export.
#[derive(Debug, Clone)]
pub struct Table {
    /// The sheet's name (at most 31 characters).
    pub sheet: &'static str,
    pub columns: &'static [Column],
    pub rows: Vec<Vec<Cell>>,
}

/// The UTF-8 byte order mark: without it Excel reads the file as the
/// system's code page and garbles every accent.
const BOM: &[u8] = b"\xEF\xBB\xBF";

impl Table {
    /// The table as CSV: BOM, `;`, CRLF, a header row.
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .terminator(csv::Terminator::CRLF)
            .from_writer(BOM.to_vec());
        w.write_record(self.columns.iter().map(|c| c.header))?;
        for row in &self.rows {
            w.write_record(row.iter().map(Cell::csv))?;
        }
        w.into_inner().context("writing the CSV export")
    }

    /// The table as an .xlsx workbook of one sheet.
    pub fn to_xlsx(&self) -> Result<Vec<u8>> {
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        let date = Format::new().set_num_format("dd-mm-yyyy");
        let euro = Format::new().set_num_format("\"€\" #,##0.00;\"€\" -#,##0.00");
        let decimal = Format::new().set_num_format("0.00");
        let sheet = book.add_worksheet();
        sheet.set_name(self.sheet)?;
        for (c, column) in self.columns.iter().enumerate() {
            let c = u16::try_from(c).context("too many columns")?;
            sheet.write_string_with_format(0, c, column.header, &bold)?;
            sheet.set_column_width(c, column.width)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        for (r, row) in self.rows.iter().enumerate() {
            let r = u32::try_from(r + 1).context("too many rows")?;
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c).context("too many columns")?;
                match cell {
                    Cell::Text(s) => {
                        sheet.write_string(r, c, s)?;
                    }
                    Cell::Integer(n) => {
                        // Exact up to 2^53: counts and volumes are far below.
                        sheet.write_number(r, c, *n as f64)?;
                    }
                    Cell::Decimal(x) => {
                        sheet.write_number_with_format(r, c, *x, &decimal)?;
                    }
                    Cell::Cents(cents) => {
                        sheet.write_number_with_format(r, c, *cents as f64 / 100.0, &euro)?;
                    }
                    Cell::Date(d) => {
                        sheet.write_datetime_with_format(r, c, d, &date)?;
                    }
                    Cell::Empty => {}
                }
            }
        }
        book.save_to_buffer().context("writing the .xlsx export")
    }
}

/// The file format asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Csv,
    Xlsx,
}

impl FileType {
    /// From a file name's extension.
    pub fn of(ext: &str) -> Option<FileType> {
        match ext {
            "csv" => Some(FileType::Csv),
            "xlsx" => Some(FileType::Xlsx),
            _ => None,
        }
    }

    fn ext(self) -> &'static str {
        match self {
            FileType::Csv => "csv",
            FileType::Xlsx => "xlsx",
        }
    }
}

/// The table as a download named `stem.ext`.
pub fn download(table: &Table, format: FileType, stem: &str) -> Result<Response> {
    let (mime, bytes) = match format {
        FileType::Csv => ("text/csv; charset=utf-8", table.to_csv()?),
        FileType::Xlsx => (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            table.to_xlsx()?,
        ),
    };
    let name: String = format!("{stem}.{}", format.ext())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-.".contains(*c))
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[
        col("Naam", Kind::Text, 20),
        col("Bedrag", Kind::Euro, 12),
        col("Datum", Kind::Date, 12),
    ];

    #[test]
    fn csv_is_what_dutch_spreadsheets_open() {
        let t = Table {
            sheet: "Test",
            columns: COLUMNS,
            rows: vec![vec![
                Cell::text("Jansen; J."),
                Cell::Cents(-123_456),
                Cell::date(Some("2026-11-03")),
            ]],
        };
        let csv = t.to_csv().unwrap();
        assert!(csv.starts_with(BOM));
        let text = std::str::from_utf8(&csv[3..]).unwrap();
        assert_eq!(
            text,
            "Naam;Bedrag;Datum\r\n\"Jansen; J.\";-1234,56;03-11-2026\r\n"
        );
        assert!(t.to_xlsx().unwrap().starts_with(b"PK"));
    }
}
