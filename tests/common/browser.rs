//! The browser harness: headless Chromium driven by chromedriver (Debian's
//! `chromium` and `chromium-driver`) against the real server with the demo
//! tenant of `loket serve --demo`, and the steps every browser test takes
//! (log in, click, type, wait, screenshot to `target/screenshots/`).
//!
//! Without chromedriver on the machine a test says so and passes, unless
//! `LOKET_BROWSER_TESTS=1` (set by `.ci/run`), where a missing browser fails.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use loket::web::demo::{DEMO_AGB, DEMO_PASSWORD};
use serde_json::json;

use super::{Db, Server};

/// chromedriver, killed when the test ends.
pub struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn find_program(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {n}"))
            .output()
            .ok()?;
        let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
        (found.status.success() && !path.is_empty()).then_some(path)
    })
}

/// Starts chromedriver and a headless Chromium; `None` when there is none
/// and the browser tests were not asked for.
pub async fn browser(profile: &std::path::Path, size: (u32, u32)) -> Option<(Driver, Client)> {
    browser_with(profile, size, None).await
}

/// [`browser`] that saves downloads into `downloads` without asking.
pub async fn browser_with(
    profile: &std::path::Path,
    size: (u32, u32),
    downloads: Option<&std::path::Path>,
) -> Option<(Driver, Client)> {
    let required = std::env::var("LOKET_BROWSER_TESTS").is_ok_and(|v| v == "1");
    let (Some(driver), Some(chromium)) = (
        find_program(&["chromedriver"]),
        find_program(&["chromium", "chromium-browser", "google-chrome"]),
    ) else {
        assert!(
            !required,
            "LOKET_BROWSER_TESTS=1 but chromedriver or chromium is missing"
        );
        eprintln!("browser test skipped: chromedriver or chromium not installed");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let mut caps = serde_json::Map::new();
    let mut options = json!({
        "binary": chromium,
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", format!("--window-size={},{}", size.0, size.1),
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    if let Some(dir) = downloads {
        options["prefs"] = json!({
            "download.default_directory": dir.display().to_string(),
            "download.prompt_for_download": false,
        });
    }
    caps.insert("goog:chromeOptions".into(), options);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        match ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(c) => return Some((driver, c)),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("chromedriver did not accept a session at {url}");
}

pub async fn shot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

pub async fn text(c: &Client) -> String {
    c.find(Locator::Css("main"))
        .await
        .expect("main")
        .text()
        .await
        .expect("text")
}

/// No BSN travels in a URL.
pub async fn assert_no_bsn_in_url(c: &Client) {
    let url = c.current_url().await.expect("url").to_string();
    let digits9 = url
        .split(|ch: char| !ch.is_ascii_digit())
        .any(|run| run.len() == 9 && loket::adapter::istandaard::rules::elfproef(run));
    assert!(!digits9, "a BSN-like number in {url}");
}

pub async fn click(c: &Client, what: Locator<'_>) {
    c.find(what)
        .await
        .expect("element")
        .click()
        .await
        .expect("click");
}

pub async fn type_into(c: &Client, what: Locator<'_>, text: &str) {
    c.find(what)
        .await
        .expect("element")
        .send_keys(text)
        .await
        .expect("typing");
}

pub async fn login(c: &Client, base: &str, user: &str) {
    login_at(c, base, DEMO_AGB, user).await;
}

pub async fn login_at(c: &Client, base: &str, organisation: &str, user: &str) {
    c.goto(&format!("{base}/login")).await.expect("login page");
    type_into(c, Locator::Id("organisatie"), organisation).await;
    type_into(c, Locator::Id("gebruiker"), user).await;
    type_into(c, Locator::Id("wachtwoord"), DEMO_PASSWORD).await;
    click(c, Locator::Css("form.login button")).await;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("nav[aria-label=Hoofdmenu]"))
        .await
        .expect("logged in: the menu shows");
    let url = c.current_url().await.unwrap().to_string();
    assert!(!url.contains("/login"), "logged in as {user}: {url}");
}

/// Waits for the page a form submission leads to (every result page shows
/// a `.melding`).
pub async fn wait_for_message(c: &Client) {
    wait_for(c, Locator::Css("p.melding"), "no result message").await;
}

/// Saves the day registration form on the page and returns the page it
/// leads to (its text).
pub async fn save_day(c: &Client) -> String {
    click(
        c,
        Locator::Css("form[method=post][action='/registratie'] button[type=submit]"),
    )
    .await;
    wait_for_message(c).await;
    text(c).await
}

pub async fn logout(c: &Client) {
    c.find(Locator::Css(".wie button"))
        .await
        .expect("logout button")
        .click()
        .await
        .expect("logout");
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Id("organisatie"))
        .await
        .expect("back at the login form");
}

/// A browser and the demo server (SQLite); `None` without a browser.
///
/// Bind every field a test keeps using, the server too (`s: _server`): a
/// field left to `..` is dropped at once, and with the server its data
/// directory, so the server's next new database connection finds no file.
pub struct Session {
    pub c: Client,
    pub s: Server,
    pub demo: loket::web::demo::Demo,
    /// localhost: browsers keep Secure cookies for it over plain HTTP.
    pub base: String,
    pub _profile: tempfile::TempDir,
    pub _driver: Driver,
}

pub async fn session() -> Option<Session> {
    session_sized(DESKTOP).await
}

/// A laptop screen.
pub const DESKTOP: (u32, u32) = (1280, 1000);
/// A tablet held upright (iPad Air, the coaches' usual device): 820 CSS
/// pixels wide.
pub const TABLET: (u32, u32) = (820, 1180);

/// [`session`] in a window of `size` (width, height in CSS pixels).
pub async fn session_sized(size: (u32, u32)) -> Option<Session> {
    super::capture_logs();
    session_with(size, None).await
}

/// [`session_sized`] whose downloads land in `downloads`.
pub async fn session_with(
    size: (u32, u32),
    downloads: Option<&std::path::Path>,
) -> Option<Session> {
    let profile = tempfile::tempdir().expect("profile dir");
    let (driver, c) = browser_with(profile.path(), size, downloads).await?;
    let db = Db {
        url: None,
        dir: tempfile::tempdir().expect("tempdir"),
    };
    let (s, demo) = Server::start_demo(db).await;
    let base = s.base.replace("127.0.0.1", "localhost");
    Some(Session {
        c,
        s,
        demo,
        base,
        _profile: profile,
        _driver: driver,
    })
}

/// Waits for `what` on the page a click or a form leads to; on a timeout
/// the panic says where the browser is and what it shows.
pub async fn wait_for(c: &Client, what: Locator<'_>, name: &str) -> fantoccini::elements::Element {
    match c
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(what)
        .await
    {
        Ok(e) => e,
        Err(e) => {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let src = c.source().await.unwrap_or_default();
            let logs = super::captured_logs();
            let tail = logs.get(logs.len().saturating_sub(4000)..).unwrap_or(&logs);
            panic!("{name}: {e} at {url}:\n{src}\nlogs:\n{tail}");
        }
    }
}
