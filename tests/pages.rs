//! Every page a demo user can reach, read as a person reads it: dates as
//! dd-mm-jjjj, months by their Dutch name, times in Amsterdam time with the
//! zone, and counts in the right number ("1 deelnemer", never "1
//! deelnemers"). The test follows every link of every page (same origin,
//! pages only: no downloads, no logout) from each role's start page, on both
//! backends, so a page added later is judged without being named here.

use std::collections::{BTreeSet, VecDeque};

use loket::web::demo::{DEMO_AGB, DEMO_GEMEENTE, DEMO_PASSWORD};
use regex::Regex;

#[macro_use]
mod common;
use common::*;

on_both_backends!(every_page_writes_dates_times_and_counts_the_dutch_way);

/// The most pages one role's walk opens, and the most variants (queries)
/// of one path: the week view links the next week forever.
const MAX_PAGES: usize = 400;
const MAX_VARIANTS: usize = 6;

/// The text a reader sees: tags, scripts, styles and the content of
/// `<pre>`/`<code>` (XML and identifiers, shown as exchanged) left out, and
/// attribute values (form values are ISO for the browser's date input) too.
fn visible_text(html: &str) -> String {
    let blocks = Regex::new(
        r"(?s)<(script|style|pre|code|textarea)\b.*?</(script|style|pre|code|textarea)>",
    )
    .expect("regex");
    let tags = Regex::new(r"(?s)<[^>]*>").expect("regex");
    let without = blocks.replace_all(html, " ");
    let text = tags.replace_all(&without, " ");
    text.replace("&nbsp;", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The same-origin page links of a page.
fn links(html: &str) -> Vec<String> {
    let href = Regex::new(r##"href="(/[^"#]*)"##).expect("regex");
    href.captures_iter(html)
        .map(|c| c[1].replace("&amp;", "&"))
        .filter(|l| {
            !l.starts_with("/static/")
                && ![".csv", ".json", ".xlsx", ".xml", "/bericht", "/download"]
                    .iter()
                    .any(|ext| l.split('?').next().unwrap_or(l).ends_with(ext))
        })
        .collect()
}

/// What a page must not say, with why.
fn faults(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let iso = Regex::new(r"\b\d{4}-\d{2}-\d{2}\b").expect("regex");
    let around = |start: usize, end: usize| {
        let from = text[..start]
            .char_indices()
            .rev()
            .nth(40)
            .map_or(0, |(i, _)| i);
        let to = text[end..]
            .char_indices()
            .nth(40)
            .map_or(text.len(), |(i, _)| end + i);
        text[from..to].to_string()
    };
    for m in iso.find_iter(text) {
        out.push(format!(
            "an ISO date {:?} in \"{}\"",
            m.as_str(),
            around(m.start(), m.end())
        ));
    }
    let time = Regex::new(r"\b\d{2}-\d{2}-\d{4},? \d{2}:\d{2}(:\d{2})?\b( CES?T)?").expect("regex");
    for m in time.find_iter(text) {
        if !m.as_str().ends_with("CET") && !m.as_str().ends_with("CEST") {
            out.push(format!("a time without its zone {:?}", m.as_str()));
        }
    }
    let plural = Regex::new(
        r"(^|[^\d,.])1 (deelnemers|regels|registraties|berichten|werkdagen|dagdelen|dagen|declaraties|facturen|toewijzingen|termijnen|verzoeken|gebruikers|correcties|meldingen)\b",
    )
    .expect("regex");
    for m in plural.find_iter(text) {
        out.push(format!(
            "a count in the wrong number {:?}",
            m.as_str().trim()
        ));
    }
    let month = Regex::new(r"\b(20\d\d)-(0[1-9]|1[0-2])\b").expect("regex");
    let without_dates = iso.replace_all(text, " ");
    for m in month.find_iter(&without_dates) {
        out.push(format!("a month as {:?}, not by its name", m.as_str()));
    }
    out
}

/// Walks every page `user` can reach and returns the faults found, each
/// with its page.
async fn walk(s: &Server, tenant: &str, user: &str) -> (usize, Vec<String>) {
    let mut web = WebClient::new(&s.base);
    let login = web.login(tenant, user, DEMO_PASSWORD).await;
    assert_eq!(login.status, 303, "{user} logs in");
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from(["/".to_string()]);
    let mut found = Vec::new();
    let mut pages = 0;
    let mut variants = std::collections::BTreeMap::<String, usize>::new();
    while let Some(path) = queue.pop_front() {
        if !seen.insert(path.clone()) || seen.len() > MAX_PAGES {
            continue;
        }
        let bare = path.split('?').next().unwrap_or(&path).to_string();
        let n = variants.entry(bare).or_default();
        *n += 1;
        if *n > MAX_VARIANTS {
            continue;
        }
        let mut page = web.get(&path).await;
        let mut hops = 0;
        while page.status == 303 && hops < 3 {
            let Some(to) = page.location.clone() else {
                break;
            };
            if to.starts_with("/login") {
                break;
            }
            page = web.get(&to).await;
            hops += 1;
        }
        if page.status != 200 || !page.body.starts_with("<!DOCTYPE html>") {
            continue;
        }
        pages += 1;
        for f in faults(&visible_text(&page.body)) {
            found.push(format!("{user} {path}: {f}"));
        }
        for l in links(&page.body) {
            if !seen.contains(&l) {
                queue.push_back(l);
            }
        }
    }
    (pages, found)
}

async fn every_page_writes_dates_times_and_counts_the_dutch_way(db: Db) {
    let (s, _demo) = Server::start_demo(db).await;
    let mut all = Vec::new();
    let mut total = 0;
    for (tenant, user) in [
        (DEMO_AGB, "jobcoach"),
        (DEMO_AGB, "backoffice"),
        (DEMO_AGB, "beheer"),
        (DEMO_GEMEENTE, "beoordelaar"),
        (DEMO_GEMEENTE, "gemeentebeheer"),
    ] {
        let (pages, faults) = walk(&s, tenant, user).await;
        eprintln!("{user}: {pages} pages read");
        assert!(pages >= 3, "{user} reached only {pages} pages");
        total += pages;
        all.extend(faults);
    }
    assert!(total >= 30, "the walk read {total} pages");
    assert!(all.is_empty(), "{} faults:\n{}", all.len(), all.join("\n"));
}

#[test]
fn the_judge_of_the_text_itself() {
    assert!(faults("op 07-12-2026 01:15 CET, 1 deelnemer, 2 deelnemers, november 2026").is_empty());
    assert_eq!(faults("op 2026-12-07").len(), 1);
    assert_eq!(faults("om 07-12-2026 01:15").len(), 1);
    assert_eq!(faults("1 deelnemers").len(), 1);
    assert!(faults("11 deelnemers, 0,1 dagdelen").is_empty());
    assert_eq!(faults("periode 2026-11").len(), 1);
    assert_eq!(
        visible_text("<p>a<code>2026-11-01</code> <span title=\"2026-11-01\">b</span></p>"),
        "a b"
    );
    assert_eq!(
        links(r#"<a href="/a?b=1&amp;c=2">x</a><a href="/x.csv">y</a><a href="https://e">z</a>"#),
        vec!["/a?b=1&c=2".to_string()]
    );
}
