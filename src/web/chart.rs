//! Charts of outcomes as inline SVG, drawn on the server: a domain over
//! time, one small chart per domain, how a group is spread over the levels
//! at intake and now, and how many improved, stayed or fell back.
//!
//! No chart library and no script: the Content-Security-Policy allows no
//! inline script or style, a tablet at the door should not download one,
//! and a chart drawn here is checked by the same tests as the page. Every
//! chart is escaped by maud like any other markup, scales with its
//! `viewBox` to the width it gets (a tablet held upright shows it without
//! scrolling sideways), takes its colours from the stylesheet's classes,
//! and is an image with a text alternative (`role="img"`, `<title>` and
//! `aria-label` saying what it shows in words); the pages put the numbers
//! beside it as text or in a table as well. Every SVG element is closed
//! explicitly: inside HTML an SVG `<circle>` without its end tag would
//! swallow what follows.
//!
//! Dates and numbers are written through [`super::format`], as on every
//! page. The functions are pure: same data, same SVG.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};

use super::format;
use crate::engine::outcomes::Change;
use crate::instrument::{Domain, Instrument};

/// One score on one day, as a chart draws it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dot {
    pub date: NaiveDate,
    pub score: i64,
}

/// How large a line chart is drawn: one domain on its own with the
/// scale's level names, or one of the small charts side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Large,
    Small,
}

/// Where a line chart puts a date and a score (in `viewBox` units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plot {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
    from: NaiveDate,
    to: NaiveDate,
    min: i64,
    max: i64,
    higher_is_better: bool,
}

/// Room between the y axis's names and the first point (and after the
/// last), so a point never covers a level's name.
pub const PAD: f64 = 8.0;

/// Roughly how wide one character of the axis font is, in `viewBox` units.
const CHAR_WIDTH: f64 = 5.6;

impl Plot {
    /// The frame of a line chart of `instrument` over `from..=to`.
    pub fn new(instrument: &Instrument, size: Size, from: NaiveDate, to: NaiveDate) -> Plot {
        let (width, height, left, right, top, bottom) = match size {
            Size::Large => {
                // Room for the longest level name ("3 – Beperkt zelfredzaam"),
                // not more than half the width.
                let longest = (instrument.min..=instrument.max)
                    .map(|v| instrument.score_label(v).chars().count())
                    .max()
                    .unwrap_or(2) as f64;
                (
                    640.0,
                    280.0,
                    (14.0 + CHAR_WIDTH * longest).min(300.0),
                    18.0,
                    14.0,
                    40.0,
                )
            }
            Size::Small => {
                let digits = instrument
                    .max
                    .to_string()
                    .len()
                    .max(instrument.min.to_string().len());
                (
                    260.0,
                    140.0,
                    10.0 + CHAR_WIDTH * digits as f64,
                    12.0,
                    10.0,
                    24.0,
                )
            }
        };
        let (from, to) = if from <= to { (from, to) } else { (to, from) };
        Plot {
            width,
            height,
            left,
            right,
            top,
            bottom,
            from,
            to,
            min: instrument.min,
            max: instrument.max,
            higher_is_better: instrument.higher_is_better,
        }
    }

    /// Where points may go on the x axis: inside the axis by [`PAD`].
    fn plot_width(&self) -> f64 {
        self.width - self.left - self.right - 2.0 * PAD
    }

    fn plot_height(&self) -> f64 {
        self.height - self.top - self.bottom
    }

    /// A date's place on the x axis: proportional to time; one day alone
    /// in the middle.
    pub fn x(&self, d: NaiveDate) -> f64 {
        let span = (self.to - self.from).num_days();
        if span <= 0 {
            return self.left + PAD + self.plot_width() / 2.0;
        }
        let at = (d - self.from).num_days().clamp(0, span);
        self.left + PAD + self.plot_width() * at as f64 / span as f64
    }

    /// A score's place on the y axis: the better end of the scale on top.
    pub fn y(&self, score: i64) -> f64 {
        let range = (self.max - self.min).max(1) as f64;
        let mut frac = (score.clamp(self.min, self.max) - self.min) as f64 / range;
        if !self.higher_is_better {
            frac = 1.0 - frac;
        }
        self.top + self.plot_height() * (1.0 - frac)
    }

    fn view_box(&self) -> String {
        format!("0 0 {} {}", n(self.width), n(self.height))
    }
}

/// A coordinate in an attribute: one decimal, no needless zeros, a point
/// (SVG's notation, not a reader's).
fn n(x: f64) -> String {
    let s = format!("{x:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// The scores of one domain over time as words, for `aria-label` and
/// `<title>`: "Financiën: 4 metingen van 01-06-2026 tot 01-12-2026, van
/// 2 – Niet zelfredzaam naar 4 – Voldoende zelfredzaam".
pub fn describe(instrument: &Instrument, name: &str, dots: &[Dot]) -> String {
    match (dots.first(), dots.last()) {
        (Some(first), Some(last)) if dots.len() > 1 => format!(
            "{name}: {} van {} tot {}, van {} naar {}",
            format::count(dots.len() as i64, "meting", "metingen"),
            format::date(first.date),
            format::date(last.date),
            instrument.score_label(first.score),
            instrument.score_label(last.score)
        ),
        (Some(only), _) => format!(
            "{name}: 1 meting op {}, {}",
            format::date(only.date),
            instrument.score_label(only.score)
        ),
        _ => format!("{name}: geen metingen"),
    }
}

/// The first of every month in `from..=to` (and `from` itself when the
/// range starts mid-month and holds no first of a month).
fn month_ticks(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut d = from.with_day(1).unwrap_or(from);
    if d < from {
        d = d.checked_add_months(chrono::Months::new(1)).unwrap_or(to);
    }
    while d <= to && out.len() < 240 {
        out.push(d);
        let Some(next) = d.checked_add_months(chrono::Months::new(1)) else {
            break;
        };
        d = next;
    }
    out
}

/// The score values a y axis names: every one on a short scale, else
/// about five.
fn y_ticks(min: i64, max: i64, size: Size) -> Vec<i64> {
    let span = (max - min).max(1);
    let most = match size {
        Size::Large => 10,
        Size::Small => 5,
    };
    let step = (span + most - 1) / most;
    let mut v: Vec<i64> = (min..=max).step_by(step.max(1) as usize).collect();
    if v.last() != Some(&max) {
        v.push(max);
    }
    v
}

/// One domain's scores over time as a line chart: dates on the x axis in
/// proportion to time over `range` (shared by the charts shown together),
/// the instrument's scale on the y axis, better at the top, named by its
/// levels on a large chart.
pub fn line(
    instrument: &Instrument,
    domain: &Domain,
    dots: &[Dot],
    range: (NaiveDate, NaiveDate),
    size: Size,
) -> Markup {
    let plot = Plot::new(instrument, size, range.0, range.1);
    let label = describe(instrument, &domain.name, dots);
    let points: Vec<String> = dots
        .iter()
        .map(|d| format!("{},{}", n(plot.x(d.date)), n(plot.y(d.score))))
        .collect();
    let ticks = month_ticks(plot.from, plot.to);
    // At most about eight month names under a large chart.
    let every = ticks.len().div_ceil(8).max(1);
    let base = plot.height - plot.bottom;
    let class = match size {
        Size::Large => "grafiek lijn groot",
        Size::Small => "grafiek lijn klein",
    };
    html! {
        svg class=(class) viewBox=(plot.view_box()) role="img" aria-label=(label)
            xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            g.as {
                @for v in y_ticks(instrument.min, instrument.max, size) {
                    line.raster x1=(n(plot.left)) x2=(n(plot.width - plot.right)) y1=(n(plot.y(v))) y2=(n(plot.y(v))) {}
                    text x=(n(plot.left - 5.0)) y=(n(plot.y(v) + 3.5)) text-anchor="end" {
                        @match size {
                            Size::Large => (instrument.score_label(v)),
                            Size::Small => (v),
                        }
                    }
                }
                line.basis x1=(n(plot.left)) x2=(n(plot.width - plot.right)) y1=(n(base)) y2=(n(base)) {}
                @match size {
                    Size::Large => {
                        @for (i, t) in ticks.iter().enumerate() {
                            line.tik x1=(n(plot.x(*t))) x2=(n(plot.x(*t))) y1=(n(base)) y2=(n(base + 5.0)) {}
                            @if i % every == 0 {
                                text x=(n(plot.x(*t))) y=(n(base + 17.0)) text-anchor="middle" {
                                    (format::month_abbr(t.month()))
                                }
                                @if i == 0 || t.month() == 1 {
                                    text x=(n(plot.x(*t))) y=(n(base + 30.0)) text-anchor="middle" { (t.year()) }
                                }
                            }
                        }
                    }
                    Size::Small => {
                        text x=(n(plot.left)) y=(n(base + 16.0)) text-anchor="start" { (format::date(plot.from)) }
                        @if plot.to != plot.from {
                            text x=(n(plot.width - plot.right)) y=(n(base + 16.0)) text-anchor="end" { (format::date(plot.to)) }
                        }
                    }
                }
            }
            @if points.len() > 1 {
                polyline.lijn points=(points.join(" ")) {}
            }
            @for d in dots {
                circle.punt cx=(n(plot.x(d.date))) cy=(n(plot.y(d.score))) r=(if size == Size::Large { "5" } else { "3.5" }) {
                    title { (format::date(d.date)) ": " (instrument.score_label(d.score)) }
                }
            }
        }
    }
}

/// One small line chart per domain, side by side (they wrap on a narrow
/// screen), all over the same dates so they can be compared at a glance.
/// Domains without a score are left out.
pub fn small_multiples(instrument: &Instrument, per_domain: &[(&Domain, Vec<Dot>)]) -> Markup {
    let dates = per_domain
        .iter()
        .flat_map(|(_, d)| d.iter().map(|d| d.date));
    let (Some(from), Some(to)) = (dates.clone().min(), dates.max()) else {
        return html! {};
    };
    html! {
        div.kleine-grafieken {
            @for (domain, dots) in per_domain.iter().filter(|(_, d)| !d.is_empty()) {
                figure.klein {
                    figcaption { (domain.name) }
                    (line(instrument, domain, dots, (from, to), Size::Small))
                }
            }
        }
    }
}

/// The colour class of a score: five steps from the worst end of the
/// scale (`n0`) to the best (`n4`), whatever the scale's length.
pub fn level_class(instrument: &Instrument, score: i64) -> &'static str {
    const CLASSES: [&str; 5] = ["n0", "n1", "n2", "n3", "n4"];
    let span = (instrument.max - instrument.min).max(1) as f64;
    let mut frac = (score.clamp(instrument.min, instrument.max) - instrument.min) as f64 / span;
    if !instrument.higher_is_better {
        frac = 1.0 - frac;
    }
    CLASSES[((frac * 4.0).round() as usize).min(4)]
}

/// Width of the bar charts and of their label column, in `viewBox` units.
const BAR_WIDTH: f64 = 320.0;
const BAR_LABEL: f64 = 52.0;
const BAR_HEIGHT: f64 = 24.0;

/// Segments of a 100 % bar: (start, width) per count, in `viewBox` units.
fn segments(counts: &[usize]) -> Vec<(f64, f64)> {
    let total: usize = counts.iter().sum();
    let room = BAR_WIDTH - BAR_LABEL - 4.0;
    let mut at = BAR_LABEL;
    counts
        .iter()
        .map(|c| {
            let w = if total == 0 {
                0.0
            } else {
                room * *c as f64 / total as f64
            };
            let s = (at, w);
            at += w;
            s
        })
        .collect()
}

/// How a group is spread over the levels of one domain, one 100 % bar per
/// moment (intake, now): each level a segment as wide as its share, the
/// number of participants in it written in the segment and in its title.
pub fn distribution(instrument: &Instrument, bars: &[(&str, &BTreeMap<i64, usize>)]) -> Markup {
    let words: Vec<String> = bars
        .iter()
        .map(|(name, counts)| {
            let parts: Vec<String> = counts
                .iter()
                .filter(|(_, c)| **c > 0)
                .map(|(v, c)| format!("{c} op {}", instrument.score_label(*v)))
                .collect();
            format!("{name}: {}", parts.join(", "))
        })
        .collect();
    let label = words.join("; ");
    let height = BAR_HEIGHT * bars.len() as f64 + 6.0 * bars.len().saturating_sub(1) as f64;
    html! {
        svg.grafiek.verdeling viewBox=(format!("0 0 {} {}", n(BAR_WIDTH), n(height))) role="img"
            aria-label=(label) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            @for (row, (name, counts)) in bars.iter().enumerate() {
                @let y = row as f64 * (BAR_HEIGHT + 6.0);
                @let values: Vec<(i64, usize)> = counts.iter().filter(|(_, c)| **c > 0).map(|(v, c)| (*v, *c)).collect();
                @let total: usize = values.iter().map(|(_, c)| c).sum();
                text.as x="0" y=(n(y + 16.0)) { (name) }
                rect.leeg x=(n(BAR_LABEL)) y=(n(y)) width=(n(BAR_WIDTH - BAR_LABEL - 4.0)) height=(n(BAR_HEIGHT)) {}
                @for ((v, c), (x, w)) in values.iter().zip(segments(&values.iter().map(|(_, c)| *c).collect::<Vec<_>>())) {
                    rect class=(format!("segment {}", level_class(instrument, *v))) x=(n(x)) y=(n(y)) width=(n(w)) height=(n(BAR_HEIGHT)) {
                        title { (name) ": " (instrument.score_label(*v)) ": " (format::count(*c as i64, "deelnemer", "deelnemers")) " van " (total) }
                    }
                    @if w >= 14.0 {
                        text.in-balk x=(n(x + w / 2.0)) y=(n(y + 16.0)) text-anchor="middle" { (c) }
                    }
                }
            }
        }
    }
}

/// How many improved, stayed or fell back: one 100 % bar in three
/// segments, each with its number.
pub fn changes(improved: usize, same: usize, worse: usize) -> Markup {
    let total = improved + same + worse;
    let label = format!(
        "{improved} vooruit, {same} gelijk, {worse} achteruit van {}",
        format::count(total as i64, "deelnemer", "deelnemers")
    );
    let parts = [
        (Change::Improved, improved),
        (Change::Same, same),
        (Change::Worse, worse),
    ];
    let counts: Vec<usize> = parts.iter().map(|(_, c)| *c).collect();
    html! {
        svg.grafiek.verandering viewBox=(format!("0 0 {} {}", n(BAR_WIDTH), n(BAR_HEIGHT))) role="img"
            aria-label=(label) xmlns="http://www.w3.org/2000/svg" {
            title { (label) }
            text.as x="0" y="16" { "Verloop" }
            rect.leeg x=(n(BAR_LABEL)) y="0" width=(n(BAR_WIDTH - BAR_LABEL - 4.0)) height=(n(BAR_HEIGHT)) {}
            @for ((change, c), (x, w)) in parts.iter().zip(segments(&counts)) {
                @if *c > 0 {
                    rect class=(format!("segment {}", change_class(*change))) x=(n(x)) y="0" width=(n(w)) height=(n(BAR_HEIGHT)) {
                        title { (change.nl()) ": " (format::count(*c as i64, "deelnemer", "deelnemers")) }
                    }
                    @if w >= 14.0 {
                        text.in-balk x=(n(x + w / 2.0)) y="16" text-anchor="middle" { (c) }
                    }
                }
            }
        }
    }
}

/// The colour class of a change.
pub fn change_class(c: Change) -> &'static str {
    match c {
        Change::Improved => "vooruit",
        Change::Same => "gelijk",
        Change::Worse => "achteruit",
    }
}

/// The legend of the level colours of `instrument` (under a distribution).
pub fn legend(instrument: &Instrument) -> Markup {
    html! {
        ul.legenda {
            @for v in instrument.min..=instrument.max {
                li { span class=(format!("staal {}", level_class(instrument, v))) {} (instrument.score_label(v)) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instrument::{Instruments, LADDER, POSITIVE_HEALTH, ZRM};
    use quick_xml::Reader;
    use quick_xml::events::Event;

    /// Parses `svg` as XML (it must be well-formed on its own) and returns
    /// every element as (name, attributes) and every text.
    /// An element's name and attributes.
    type Element = (String, BTreeMap<String, String>);

    fn parse(svg: &str) -> (Vec<Element>, Vec<String>) {
        let mut reader = Reader::from_str(svg);
        let mut elements = Vec::new();
        let mut texts = Vec::new();
        loop {
            match reader.read_event().expect("well-formed SVG") {
                Event::Start(e) | Event::Empty(e) => {
                    let attrs = e
                        .attributes()
                        .map(|a| {
                            let a = a.expect("attribute");
                            (
                                a.key.as_ref().to_string(),
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .expect("value")
                                    .to_string(),
                            )
                        })
                        .collect();
                    elements.push((e.name().as_ref().to_string(), attrs));
                }
                Event::Text(t) => texts.push(t.html_content().to_string()),
                Event::GeneralRef(r) => texts.push(format!("&{};", r.as_ref())),
                Event::Eof => break,
                _ => {}
            }
        }
        (elements, texts)
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn circles(svg: &str) -> Vec<(f64, f64)> {
        parse(svg)
            .0
            .into_iter()
            .filter(|(name, _)| name == "circle")
            .map(|(_, a)| {
                (
                    a["cx"].parse::<f64>().expect("cx"),
                    a["cy"].parse::<f64>().expect("cy"),
                )
            })
            .collect()
    }

    #[test]
    fn a_line_chart_puts_each_score_at_its_date_and_level() {
        let all = Instruments::builtin().expect("instruments");
        let zrm = all.get(ZRM).expect("zrm");
        let domain = zrm.domain("financien").expect("domain");
        let dots = [
            Dot {
                date: d("2026-01-01"),
                score: 1,
            },
            Dot {
                date: d("2026-01-31"),
                score: 3,
            },
            Dot {
                date: d("2026-03-02"),
                score: 5,
            },
        ];
        let svg = line(
            zrm,
            domain,
            &dots,
            (d("2026-01-01"), d("2026-03-02")),
            Size::Large,
        )
        .into_string();
        let plot = Plot::new(zrm, Size::Large, d("2026-01-01"), d("2026-03-02"));
        // 60 days: the second point half way, the last at the right end;
        // level 1 at the bottom of the plot, 5 at its top, 3 in between.
        let width = plot.width - plot.left - plot.right - 2.0 * PAD;
        let expected = [
            (plot.left + PAD, plot.height - plot.bottom),
            (
                plot.left + PAD + width / 2.0,
                (plot.top + plot.height - plot.bottom) / 2.0,
            ),
            (plot.width - plot.right - PAD, plot.top),
        ];
        let got = circles(&svg);
        assert_eq!(got.len(), 3, "{svg}");
        for (g, e) in got.iter().zip(expected) {
            assert!(
                (g.0 - e.0).abs() < 0.11 && (g.1 - e.1).abs() < 0.11,
                "{g:?} != {e:?}"
            );
        }
        let (elements, texts) = parse(&svg);
        let root = &elements[0];
        assert_eq!(root.0, "svg");
        assert_eq!(root.1["role"], "img");
        assert!(
            root.1["aria-label"].contains("3 metingen van 01-01-2026 tot 02-03-2026"),
            "{:?}",
            root.1
        );
        assert!(
            root.1["aria-label"]
                .contains("van 1 – Acute problematiek naar 5 – Volledig zelfredzaam")
        );
        // The axis names the levels and the months in Dutch.
        assert!(
            texts.iter().any(|t| t == "3 – Beperkt zelfredzaam"),
            "{texts:?}"
        );
        for m in ["jan", "feb", "mrt", "2026"] {
            assert!(texts.iter().any(|t| t == m), "{m}: {texts:?}");
        }
        assert!(
            texts.iter().any(|t| t.contains("31-01-2026")),
            "a point's title: {texts:?}"
        );
        let polyline = elements
            .iter()
            .find(|(n, _)| n == "polyline")
            .expect("a line");
        assert_eq!(polyline.1["points"].split(' ').count(), 3);
    }

    #[test]
    fn small_multiples_share_their_dates_and_one_measurement_stands_in_the_middle() {
        let all = Instruments::builtin().expect("instruments");
        let pg = all.get(POSITIVE_HEALTH).expect("pg");
        let a = pg.domain("zingeving").expect("domain");
        let b = pg.domain("meedoen").expect("domain");
        let c = pg.domain("lichaamsfuncties").expect("domain");
        let html = small_multiples(
            pg,
            &[
                (
                    a,
                    vec![
                        Dot {
                            date: d("2026-02-01"),
                            score: 0,
                        },
                        Dot {
                            date: d("2026-04-01"),
                            score: 10,
                        },
                    ],
                ),
                (
                    b,
                    vec![Dot {
                        date: d("2026-03-01"),
                        score: 5,
                    }],
                ),
                (c, vec![]),
            ],
        )
        .into_string();
        let (elements, _) = parse(&html);
        assert_eq!(
            elements.iter().filter(|(n, _)| n == "svg").count(),
            2,
            "an empty domain is left out"
        );
        let plot = Plot::new(pg, Size::Small, d("2026-02-01"), d("2026-04-01"));
        let got = circles(&html);
        assert_eq!(got.len(), 3);
        assert!(
            (got[0].0 - plot.left - PAD).abs() < 0.11
                && (got[0].1 - (plot.height - plot.bottom)).abs() < 0.11
        );
        assert!(
            (got[1].0 - (plot.width - plot.right - PAD)).abs() < 0.11
                && (got[1].1 - plot.top).abs() < 0.11
        );
        // 1 March on a shared axis from 1 February to 1 April: 28 of 59 days.
        let x = plot.left + PAD + (plot.width - plot.left - plot.right - 2.0 * PAD) * 28.0 / 59.0;
        assert!((got[2].0 - x).abs() < 0.11, "{} != {x}", got[2].0);
        // Alone, one measurement stands in the middle.
        let one = line(
            pg,
            b,
            &[Dot {
                date: d("2026-03-01"),
                score: 5,
            }],
            (d("2026-03-01"), d("2026-03-01")),
            Size::Small,
        )
        .into_string();
        let mid = circles(&one)[0];
        assert!((mid.0 - (plot.left + plot.width - plot.right) / 2.0).abs() < 0.11);
        assert!(!one.contains("<polyline"));
    }

    #[test]
    fn bars_split_by_level_and_change_with_their_numbers_and_escape_names() {
        let all = Instruments::builtin().expect("instruments");
        let ladder = all.get(LADDER).expect("ladder");
        let intake = BTreeMap::from([(1, 2), (3, 2)]);
        let now = BTreeMap::from([(3, 1), (5, 3)]);
        let svg = distribution(ladder, &[("Intake <a>", &intake), ("Nu", &now)]).into_string();
        assert!(!svg.contains("<a>"), "names are escaped");
        let (elements, texts) = parse(&svg);
        let rects: Vec<&BTreeMap<String, String>> = elements
            .iter()
            .filter(|(n, a)| n == "rect" && a["class"].starts_with("segment"))
            .map(|(_, a)| a)
            .collect();
        assert_eq!(rects.len(), 4);
        let room = BAR_WIDTH - BAR_LABEL - 4.0;
        let w: Vec<f64> = rects
            .iter()
            .map(|a| a["width"].parse().expect("width"))
            .collect();
        assert!(
            (w[0] - room / 2.0).abs() < 0.11 && (w[2] - room / 4.0).abs() < 0.11,
            "{w:?}"
        );
        assert_eq!(rects[0]["class"], "segment n0");
        assert_eq!(rects[3]["class"], "segment n3");
        assert!(
            texts
                .iter()
                .any(|t| t.contains("Nu: 5 – Betaald werk met ondersteuning: 3 deelnemers van 4")),
            "{texts:?}"
        );
        let root = &elements[0].1;
        assert!(
            root["aria-label"]
                .contains("Nu: 1 op 3 – Deelname georganiseerde activiteiten, 3 op 5")
        );

        let svg = changes(3, 0, 1).into_string();
        let (elements, texts) = parse(&svg);
        let segs: Vec<&str> = elements
            .iter()
            .filter(|(n, a)| n == "rect" && a["class"].starts_with("segment"))
            .map(|(_, a)| a["class"].as_str())
            .collect();
        assert_eq!(segs, ["segment vooruit", "segment achteruit"]);
        assert_eq!(
            elements[0].1["aria-label"],
            "3 vooruit, 0 gelijk, 1 achteruit van 4 deelnemers"
        );
        assert!(texts.iter().any(|t| t == "3") && texts.iter().any(|t| t == "1"));
    }

    #[test]
    fn month_ticks_and_colours() {
        assert_eq!(
            month_ticks(d("2026-01-15"), d("2026-04-01")),
            [d("2026-02-01"), d("2026-03-01"), d("2026-04-01")]
        );
        let all = Instruments::builtin().expect("instruments");
        let pg = all.get(POSITIVE_HEALTH).expect("pg");
        assert_eq!(
            (level_class(pg, 0), level_class(pg, 5), level_class(pg, 10)),
            ("n0", "n2", "n4")
        );
        assert_eq!(y_ticks(0, 10, Size::Small), [0, 2, 4, 6, 8, 10]);
        assert_eq!(y_ticks(1, 5, Size::Small), [1, 2, 3, 4, 5]);
    }
}
