use std::path::Path;

use super::*;

#[test]
fn the_builtin_instruments_load_with_their_scales() {
    let all = Instruments::builtin().expect("built-in instruments load");
    let zrm = all.get(ZRM).expect("zrm");
    assert_eq!(zrm.domains.len(), 13);
    assert_eq!((zrm.min, zrm.max), (1, 5));
    assert_eq!(zrm.levels.len(), 5);
    assert_eq!(zrm.levels[0].label, "Acute problematiek");
    assert_eq!(zrm.levels[4].label, "Volledig zelfredzaam");
    assert!(zrm.domains.iter().all(|d| d.levels.len() == 5));
    let ladder = all.get(LADDER).expect("ladder");
    assert_eq!(ladder.domains.len(), 1);
    assert_eq!(ladder.domains[0].id, LADDER_DOMAIN);
    assert_eq!((ladder.min, ladder.max), (1, 6));
    assert_eq!(
        ladder.level(6).map(|l| l.label.as_str()),
        Some("Betaald werk")
    );
    let pg = all.get(POSITIVE_HEALTH).expect("positieve gezondheid");
    assert_eq!(pg.domains.len(), 6);
    assert_eq!((pg.min, pg.max), (0, 10));
    assert!(pg.levels.is_empty());
    assert_eq!(pg.score_label(7), "7");
    assert_eq!(zrm.score_label(3), "3 – Beperkt zelfredzaam");
    assert!(zrm.check_score("financien", 5).is_ok());
    assert!(zrm.check_score("financien", 6).is_err());
    assert!(zrm.check_score("vakantie", 3).is_err());
    assert!(zrm.improved(2, 3) && !zrm.improved(3, 3));
}

fn problems(name: &str, text: &str) -> Vec<Problem> {
    parse(Path::new(name), text).expect_err("the file is refused")
}

const GOOD: &str = r#"id = "eigen"
name = "Eigen meting"
version = "1"
scale = { min = 1, max = 3 }

[[levels]]
value = 1
label = "Laag"

[[levels]]
value = 2
label = "Midden"

[[levels]]
value = 3
label = "Hoog"

[[domains]]
id = "werk"
name = "Werk"
"#;

#[test]
fn a_providers_own_instrument_is_one_more_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("eigen.toml"), GOOD).expect("write");
    let all = Instruments::load(Some(dir.path())).expect("loads");
    let own = all.get("eigen").expect("the provider's instrument");
    assert_eq!(own.domains[0].name, "Werk");
    assert_eq!(all.iter().count(), 4);
}

#[test]
fn bad_instruments_are_refused_with_file_and_line() {
    // Not TOML.
    let p = problems("eigen.toml", "id = \"eigen\"\nname = \n");
    assert_eq!(p[0].line, Some(2), "{p:?}");
    assert!(p[0].to_string().starts_with("eigen.toml:2"), "{}", p[0]);

    // A level missing from the scale and one outside it.
    let text = GOOD.replace("value = 3", "value = 4");
    let p = problems("eigen.toml", &text);
    let outside = p
        .iter()
        .find(|p| p.message.contains("outside the scale"))
        .expect("outside");
    assert_eq!(outside.line, Some(15), "{p:?}");
    assert!(p.iter().any(|p| p.message.contains("missing: 3")), "{p:?}");

    // A domain twice.
    let text = format!("{GOOD}\n[[domains]]\nid = \"werk\"\nname = \"Nog eens werk\"\n");
    let p = problems("eigen.toml", &text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].path, "/domains/1/id");
    assert_eq!(p[0].line, Some(23), "{p:?}");

    // Schema: a score with a fraction, an unknown key.
    let text = GOOD
        .replace("max = 3", "max = 3.0")
        .replace("version = \"1\"", "version = \"1\"\nkleur = \"rood\"");
    let p = problems("eigen.toml", &text);
    assert!(
        p.iter()
            .any(|p| p.path == "/scale/max" && p.message.contains("fraction") && p.line == Some(5)),
        "{p:?}"
    );
    assert!(p.iter().any(|p| p.message.contains("kleur")), "{p:?}");

    // The id must be the file's name.
    let p = problems("ander.toml", GOOD);
    assert_eq!(p[0].path, "/id");
    assert_eq!(p[0].line, Some(1));

    // Two files with one id: the second is refused, named.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("zrm.toml"),
        GOOD.replace("\"eigen\"", "\"zrm\""),
    )
    .expect("write");
    let e = Instruments::load(Some(dir.path())).expect_err("refused");
    assert!(e.to_string().contains("defined twice"), "{e}");
    assert!(e.to_string().contains(":1 at /id"), "{e}");
}
