//! Drop-folder transport: one inbox directory per tenant.
//!
//! A watcher polls the inbox every [`POLL_INTERVAL`] and takes the regular
//! files in it in name order. Senders write under a name that starts with `.`
//! or ends in `.tmp` / `.part` and rename the file when it is complete; such
//! names (and directories, symlinks) are left alone.
//!
//! Every file is taken in exactly once, also when loket is killed at any
//! point (kill -9, power cut). Each step below is a rename or a database
//! commit, so after a crash a file is in exactly one recognisable state, and
//! doing the step again is harmless:
//!
//! 1. **claim**: renamed from the inbox into `work/`. From here on the file is
//!    loket's; a file found in `work/` (after a crash, a database outage, a
//!    failed attempt) is resumed first, before anything new is claimed.
//! 2. **commit**: handed to [`Ingest::receive`]; its transaction (message,
//!    record changes, retourbericht) is the commit point. Doing it again is a
//!    resend (TR056): nothing changes and the answer is the stored retour,
//!    byte for byte.
//! 3. **publish**: the retourbericht is written to a hidden temp file in
//!    `processed/`, flushed, and renamed to `<name>.retour.xml`. A retour
//!    already there with exactly these bytes and no message beside it was
//!    published by an attempt that died before step 4, and is taken over;
//!    one with other bytes belongs to another file, and the next free name
//!    is used.
//! 4. **file**: the message is renamed from `work/` to `processed/<name>`.
//!    This is the last step: a file no longer in `work/` is done.
//!
//! Input that cannot be taken in goes the same way to `rejected/`, with
//! `<name>.error.txt` (Dutch and English) as its companion. At start the
//! watcher removes the temp files a crash left in `processed/` and
//! `rejected/`, and one lock file (`work/.lock`) keeps a second loket from
//! watching the same inbox (the renames rely on one watcher per inbox).
//!
//! Nothing in `processed/` or `rejected/` is ever overwritten: a taken name
//! gets a numeric suffix (`WMO301.xml`, `WMO301.1.xml`, `WMO301.2.xml`, ...).
//! Logs carry the file name and the outcome, never message content.
//!
//! `LOKET_FAULT_DROPFOLDER=<step>` is a test hook only: the process aborts
//! right after that step ([`FAULT_STEPS`]), so the tests can prove the
//! restart finishes every file exactly once. Never set it in production.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde::Deserialize;
use sqlx::Row;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::adapter::istandaard::DecodeError;
use crate::record::{Ingest, IngestError, Received};
use crate::store::{Store, Tenant, TenantKind, new_id};

/// How often a watcher looks into its inbox.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// A file whose message fails to store while the database itself answers
/// (so not an outage) is tried this many times, then moved to `rejected/`.
pub const MAX_ATTEMPTS: u32 = 10;
/// Subdirectory of the inbox for files that were taken in and answered.
pub const PROCESSED: &str = "processed";
/// Subdirectory of the inbox for files that could not be taken in.
pub const REJECTED: &str = "rejected";
/// Subdirectory of the inbox for files claimed and not yet filed away.
pub const WORK: &str = "work";
/// The lock file in `work/` held by the one watcher of an inbox.
const LOCK_FILE: &str = ".lock";
/// The environment variable of the test-only fault hook.
pub const FAULT_ENV: &str = "LOKET_FAULT_DROPFOLDER";
/// The steps after which [`FAULT_ENV`] can abort the process, in order:
/// claimed into `work/`, committed in the database, companion (retour or
/// error text) written to its temp file, companion renamed into place,
/// message filed into `processed/` or `rejected/`.
pub const FAULT_STEPS: [&str; 5] = [
    "claimed",
    "committed",
    "companion-written",
    "companion-placed",
    "filed",
];
/// Highest numeric suffix tried for a free name.
const MAX_SUFFIX: u32 = 100_000;

/// One `[[dropfolder]]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropfolderConfig {
    /// The tenant the files are for (AGB code or gemeentecode); must exist.
    pub tenant: String,
    /// The watched directory; `processed/` and `rejected/` are made inside it.
    pub inbox: PathBuf,
}

/// What happened to one file in a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Taken in and answered; moved to `processed/` (`retour` is `None` for
    /// messages that get no retourbericht, such as retours themselves).
    Processed {
        status: String,
        duplicate: bool,
        path: PathBuf,
        retour: Option<PathBuf>,
    },
    /// Not taken in; moved to `rejected/` with an explanation beside it.
    Rejected { path: PathBuf, error: PathBuf },
    /// Left in the inbox for the next poll.
    Retry,
}

/// One file handled in a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    pub file: String,
    pub outcome: Outcome,
}

/// A watched inbox of one tenant.
pub struct DropFolder {
    ingest: Ingest,
    tenant: Tenant,
    inbox: PathBuf,
    work: PathBuf,
    processed: PathBuf,
    rejected: PathBuf,
    /// Failed store attempts per file while the database answered.
    attempts: HashMap<OsString, u32>,
    /// Held (locked) as long as this watcher lives.
    _lock: fs::File,
}

/// Why a file went to `rejected/`.
struct Reason {
    /// Short, content-free label for the log.
    kind: &'static str,
    nl: String,
    en: String,
}

enum Step {
    Done(Outcome),
    /// Nothing to report (the file vanished, or cannot be read yet).
    Skip,
    /// The database is unavailable: stop this poll, keep the order.
    StoreDown,
}

impl DropFolder {
    /// Opens the drop folder of `config`: the tenant must exist and the inbox
    /// must be a directory; `processed/` and `rejected/` are created.
    pub async fn open(ingest: Ingest, config: &DropfolderConfig) -> Result<DropFolder> {
        let inbox = config.inbox.display();
        let tenant = find_tenant(&ingest.store, &config.tenant)
            .await
            .with_context(|| format!("dropfolder {inbox}"))?
            .ok_or_else(|| {
                anyhow!(
                    "dropfolder {inbox}: tenant {id:?} bestaat niet; maak hem aan met `loket tenant add {id}` / tenant {id:?} does not exist; create it with `loket tenant add {id}`",
                    id = config.tenant
                )
            })?;
        DropFolder::new(ingest, tenant, &config.inbox)
    }

    /// A drop folder for a tenant already looked up: takes the inbox's lock
    /// (refused while another watcher holds it) and removes the temp files
    /// an interrupted run left behind.
    pub fn new(ingest: Ingest, tenant: Tenant, inbox: &Path) -> Result<DropFolder> {
        if !inbox.is_dir() {
            bail!(
                "dropfolder {d}: de inbox bestaat niet of is geen map / the inbox does not exist or is not a directory",
                d = inbox.display()
            );
        }
        let work = inbox.join(WORK);
        let processed = inbox.join(PROCESSED);
        let rejected = inbox.join(REJECTED);
        for dir in [&work, &processed, &rejected] {
            fs::create_dir_all(dir).with_context(|| {
                format!(
                    "dropfolder: kan {d} niet aanmaken / cannot create {d}",
                    d = dir.display()
                )
            })?;
        }
        let lock = lock_inbox(&work).with_context(|| format!("dropfolder {}", inbox.display()))?;
        for dir in [&processed, &rejected] {
            sweep_temp_files(dir)
                .with_context(|| format!("dropfolder: cannot clean {}", dir.display()))?;
        }
        Ok(DropFolder {
            ingest,
            tenant,
            inbox: inbox.to_path_buf(),
            work,
            processed,
            rejected,
            attempts: HashMap::new(),
            _lock: lock,
        })
    }

    pub fn inbox(&self) -> &Path {
        &self.inbox
    }

    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// Handles every complete file now in the inbox, in name order.
    pub async fn poll_once(&mut self) -> Vec<Handled> {
        self.poll(None).await
    }

    /// Polls every [`POLL_INTERVAL`] until `stop` turns true (or its sender
    /// is dropped). A file being handled is finished first.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        tracing::info!(tenant = %self.tenant.id, inbox = %self.inbox.display(), "dropfolder: watching");
        loop {
            if *stop.borrow() {
                break;
            }
            self.poll(Some(&stop)).await;
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                changed = stop.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        tracing::info!(tenant = %self.tenant.id, inbox = %self.inbox.display(), "dropfolder: stopped");
    }

    /// Resumes the files in `work/` (claimed before and not finished), then
    /// claims and handles the inbox's files, each in name order.
    async fn poll(&mut self, stop: Option<&watch::Receiver<bool>>) -> Vec<Handled> {
        let (inbox, work) = (self.inbox.clone(), self.work.clone());
        let listed = blocking(move || Ok((list_ready(&work)?, list_ready(&inbox)?))).await;
        let (pending, names) = match listed {
            Ok(lists) => lists,
            Err(e) => {
                tracing::warn!(tenant = %self.tenant.id, inbox = %self.inbox.display(), error = %e, "dropfolder: cannot list the inbox");
                return Vec::new();
            }
        };
        self.attempts
            .retain(|name, _| pending.contains(name) || names.contains(name));
        let mut handled = Vec::new();
        let claimed = pending.iter().map(|n| (n, true));
        let fresh = names.iter().map(|n| (n, false));
        for (name, in_work) in claimed.chain(fresh) {
            if stop.is_some_and(|s| *s.borrow()) {
                break;
            }
            let file = name.to_string_lossy().into_owned();
            if !in_work {
                match self.claim(name).await {
                    Ok(true) => {}
                    // Gone, or a file of that name is still in work/: taken
                    // on a later poll.
                    Ok(false) => continue,
                    Err(e) => {
                        tracing::warn!(tenant = %self.tenant.id, file, error = %e, "dropfolder: cannot claim the file; retrying on the next poll");
                        continue;
                    }
                }
            }
            match self.handle(name, &file).await {
                Step::Done(outcome) => handled.push(Handled { file, outcome }),
                Step::Skip => {}
                Step::StoreDown => {
                    handled.push(Handled {
                        file,
                        outcome: Outcome::Retry,
                    });
                    break;
                }
            }
        }
        handled
    }

    /// Step 1: moves the file from the inbox into `work/`. `Ok(false)` when
    /// it is gone or `work/` still holds a file of that name.
    async fn claim(&self, name: &OsStr) -> io::Result<bool> {
        let src = self.inbox.join(name);
        let dst = self.work.join(name);
        let claimed = blocking(move || {
            if exists(&dst)? {
                return Ok(false);
            }
            match fs::rename(&src, &dst) {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await?;
        if claimed {
            fault("claimed");
        }
        Ok(claimed)
    }

    /// Steps 2 to 4 for a file in `work/`.
    async fn handle(&mut self, name: &OsStr, file: &str) -> Step {
        let path = self.work.join(name);
        let limit = self.ingest.limits.max_bytes;
        let bytes = match blocking(move || read_limited(&path, limit)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(size)) => {
                let e = DecodeError::TooLarge { size, limit };
                return self
                    .reject(
                        name,
                        file,
                        Reason {
                            kind: "too large",
                            nl: e.nl(),
                            en: e.to_string(),
                        },
                    )
                    .await;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Step::Skip,
            Err(e) => {
                tracing::warn!(tenant = %self.tenant.id, file, error = %e, "dropfolder: cannot read the file; retrying on the next poll");
                return Step::Skip;
            }
        };
        let received = self.ingest.receive(&self.tenant, &bytes).await;
        if !matches!(received, Err(IngestError::Store(_))) {
            fault("committed");
        }
        match received {
            Ok(received) => {
                self.attempts.remove(name);
                self.file_processed(name, file, received).await
            }
            Err(IngestError::Unusable(e)) => {
                let reason = Reason {
                    kind: "unusable",
                    nl: e.nl(),
                    en: e.to_string(),
                };
                self.reject(name, file, reason).await
            }
            Err(IngestError::WrongTenant { receiver }) => {
                let tenant = &self.tenant.id;
                let reason = if receiver.is_empty() {
                    Reason {
                        kind: "no receiver",
                        nl: format!(
                            "het bericht heeft geen Header/Ontvanger; deze map is van tenant {tenant:?}"
                        ),
                        en: format!(
                            "the message has no Header/Ontvanger; this folder belongs to tenant {tenant:?}"
                        ),
                    }
                } else {
                    Reason {
                        kind: "wrong tenant",
                        nl: format!(
                            "het bericht is gericht aan {receiver:?} (Header/Ontvanger), maar deze map is van tenant {tenant:?}"
                        ),
                        en: format!(
                            "the message is addressed to {receiver:?} (Header/Ontvanger), but this folder belongs to tenant {tenant:?}"
                        ),
                    }
                };
                self.reject(name, file, reason).await
            }
            Err(IngestError::NoRetour(e)) => {
                let reason = Reason {
                    kind: "no retour",
                    nl: format!("er is geen retourbericht mogelijk: {e}"),
                    en: format!("no retourbericht is possible: {e}"),
                };
                self.reject(name, file, reason).await
            }
            Err(IngestError::Store(e)) => self.store_failed(name, file, e).await,
        }
    }

    async fn store_failed(&mut self, name: &OsStr, file: &str, e: anyhow::Error) -> Step {
        if self.ingest.store.ping().await.is_err() {
            tracing::warn!(tenant = %self.tenant.id, file, error = %format!("{e:#}"), "dropfolder: store unavailable; the file stays in work/ and is retried on the next poll");
            return Step::StoreDown;
        }
        // The database answers, so this may be the message itself: give it a
        // few more polls, then set it aside instead of blocking for ever.
        let attempts = self.attempts.entry(name.to_os_string()).or_insert(0);
        *attempts += 1;
        let attempts = *attempts;
        if attempts < MAX_ATTEMPTS {
            tracing::warn!(tenant = %self.tenant.id, file, attempt = attempts, max = MAX_ATTEMPTS, error = %format!("{e:#}"), "dropfolder: could not store the message; the file stays in work/ and is retried on the next poll");
            return Step::Done(Outcome::Retry);
        }
        self.attempts.remove(name);
        let reason = Reason {
            kind: "store error",
            nl: format!("het bericht kon na {MAX_ATTEMPTS} pogingen niet worden opgeslagen: {e:#}"),
            en: format!("the message could not be stored after {MAX_ATTEMPTS} attempts: {e:#}"),
        };
        self.reject(name, file, reason).await
    }

    async fn file_processed(&self, name: &OsStr, file: &str, mut r: Received) -> Step {
        let src = self.work.join(name);
        let dir = self.processed.clone();
        let target = name.to_os_string();
        // Taken, not copied: the retour of a large declaration is as large.
        let retour =
            (!r.retour_xml.is_empty()).then(|| std::mem::take(&mut r.retour_xml).into_bytes());
        let filed = blocking(move || {
            file_away(
                &src,
                &dir,
                &target,
                retour.as_deref().map(|b| (".retour.xml", b)),
            )
        })
        .await;
        match filed {
            Ok((path, retour)) => {
                tracing::info!(
                    tenant = %self.tenant.id,
                    file,
                    outcome = "processed",
                    bericht = %r.bericht,
                    status = %r.status,
                    duplicate = r.duplicate,
                    retourcodes = %r.retourcodes.join(","),
                    message_id = %r.message_id,
                    moved_to = %path.display(),
                    "dropfolder: file processed"
                );
                Step::Done(Outcome::Processed {
                    status: r.status,
                    duplicate: r.duplicate,
                    path,
                    retour,
                })
            }
            Err(e) => {
                tracing::error!(tenant = %self.tenant.id, file, message_id = %r.message_id, error = %e, "dropfolder: the message is stored but the file could not be moved to processed/; it stays in work/ and is answered again (as a duplicate) on the next poll");
                Step::Done(Outcome::Retry)
            }
        }
    }

    async fn reject(&self, name: &OsStr, file: &str, reason: Reason) -> Step {
        let text = format!(
            "Bestand / file: {file}\nTenant: {tenant}\n\nNL: Het bestand is niet verwerkt: {nl}\nEN: The file was not processed: {en}\n",
            tenant = self.tenant.id,
            nl = reason.nl,
            en = reason.en,
        );
        let src = self.work.join(name);
        let dir = self.rejected.clone();
        let target = name.to_os_string();
        let filed =
            blocking(move || file_away(&src, &dir, &target, Some((".error.txt", text.as_bytes()))))
                .await;
        match filed {
            Ok((path, Some(error))) => {
                tracing::info!(tenant = %self.tenant.id, file, outcome = "rejected", reason = reason.kind, moved_to = %path.display(), "dropfolder: file rejected");
                Step::Done(Outcome::Rejected { path, error })
            }
            Ok((_, None)) => unreachable!("file_away returns the companion it was given"),
            Err(e) => {
                tracing::error!(tenant = %self.tenant.id, file, reason = reason.kind, error = %e, "dropfolder: cannot move the file to rejected/; it stays in work/ and is retried on the next poll");
                Step::Done(Outcome::Retry)
            }
        }
    }
}

/// The running watchers of `loket serve`.
pub struct Watchers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Watchers {
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Stops every watcher (after the file it is handling) and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "dropfolder: watcher failed");
            }
        }
    }
}

/// Opens every configured drop folder (failing before any starts when one is
/// wrong) and starts one watcher per folder.
pub async fn start(ingest: &Ingest, configs: &[DropfolderConfig]) -> Result<Watchers> {
    let mut folders: Vec<DropFolder> = Vec::new();
    let mut inboxes: Vec<PathBuf> = Vec::new();
    for config in configs {
        // Checked before opening: the second open of one inbox would only
        // say that the inbox is locked. A path that does not resolve is
        // refused by `open` with its own reason.
        if let Ok(canonical) = fs::canonicalize(&config.inbox) {
            if inboxes.contains(&canonical) {
                bail!(
                    "dropfolder {d}: deze inbox is twee keer ingesteld / this inbox is configured twice",
                    d = config.inbox.display()
                );
            }
            inboxes.push(canonical);
        }
        folders.push(DropFolder::open(ingest.clone(), config).await?);
    }
    if !folders.is_empty() && std::env::var_os(FAULT_ENV).is_some() {
        tracing::warn!(
            "{FAULT_ENV} is set: a test hook that aborts loket; never set it in production"
        );
    }
    let (stop, rx) = watch::channel(false);
    let tasks = folders
        .into_iter()
        .map(|f| tokio::spawn(f.run(rx.clone())))
        .collect();
    Ok(Watchers { stop, tasks })
}

/// The tenant with this id, if it exists.
async fn find_tenant(store: &Store, id: &str) -> Result<Option<Tenant>> {
    let row = sqlx::query("SELECT id FROM tenants WHERE id = $1")
        .bind(id)
        .fetch_optional(store.pool())
        .await
        .context("cannot look up the tenant")?;
    Ok(match row {
        Some(r) => {
            let id: String = r.try_get("id")?;
            let kind = TenantKind::from_id(&id)?;
            Some(Tenant { id, kind })
        }
        None => None,
    })
}

async fn blocking<T, F>(f: F) -> io::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> io::Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e)))
}

/// Whether a name is one senders use for complete files.
fn is_ready_name(name: &OsStr) -> bool {
    let n = name.to_string_lossy().to_ascii_lowercase();
    !n.starts_with('.') && !n.ends_with(".tmp") && !n.ends_with(".part")
}

/// The complete regular files in the inbox, in name order.
fn list_ready(inbox: &Path) -> io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(inbox)? {
        let Ok(entry) = entry else { continue };
        let name = entry.file_name();
        if is_ready_name(&name) && entry.file_type().is_ok_and(|t| t.is_file()) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Reads a file of at most `limit` bytes; `Err(size)` when it is larger.
fn read_limited(path: &Path, limit: usize) -> io::Result<Result<Vec<u8>, usize>> {
    let file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    let too_large = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    if len > limit as u64 {
        // Refused before reading: the limit also bounds memory.
        return Ok(Err(too_large(len)));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Ok(Err(too_large(bytes.len() as u64)));
    }
    Ok(Ok(bytes))
}

/// `name` with the numeric suffix `k` before its extension (`k` = 0: as is).
fn suffixed(name: &OsStr, k: u32) -> OsString {
    if k == 0 {
        return name.to_os_string();
    }
    let p = Path::new(name);
    match (p.file_stem(), p.extension()) {
        (Some(stem), Some(ext)) => {
            let mut s = stem.to_os_string();
            s.push(format!(".{k}."));
            s.push(ext);
            s
        }
        _ => {
            let mut s = name.to_os_string();
            s.push(format!(".{k}"));
            s
        }
    }
}

fn exists(p: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(p) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Moves `src` to `dst` without ever replacing an existing `dst`
/// (`AlreadyExists` then): a hard link (which refuses existing names) and
/// removing the source; where links are not supported, check and rename.
/// The outbound folder's delivery uses it (a share other writers use too);
/// the drop folder itself only renames, under its lock.
pub(super) fn place(src: &Path, dst: &Path) -> io::Result<()> {
    match fs::hard_link(src, dst) {
        Ok(()) => fs::remove_file(src),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
        Err(_) => {
            if exists(dst)? {
                return Err(io::ErrorKind::AlreadyExists.into());
            }
            fs::rename(src, dst)
        }
    }
}

/// Writes `bytes` to a new hidden temp file in `dir`, flushed to disk.
pub(super) fn write_temp(dir: &Path, name: &OsStr, bytes: &[u8]) -> io::Result<PathBuf> {
    let tmp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), new_id()));
    let mut f = fs::File::create_new(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(tmp)
}

/// Best effort: make the renames in `dir` durable.
pub(super) fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Steps 3 and 4: files `src` (in `work/`) into `dir` under the first free
/// name `name`, `name.1`, ... (suffix before the extension), with the
/// companion (retour or error text) published beside it as `<that
/// name><suffix>` first. Returns both paths.
///
/// A name is free when no file has it; its companion's name must be free
/// too, or hold exactly the companion's bytes with no file beside it: the
/// companion of this very file, published by an attempt that died before
/// the rename that files it. Only renames change names here (one watcher
/// per inbox, see [`lock_inbox`]), so no state in between is ever visible
/// but "companion placed, file not yet".
fn file_away(
    src: &Path,
    dir: &Path,
    name: &OsStr,
    companion: Option<(&str, &[u8])>,
) -> io::Result<(PathBuf, Option<PathBuf>)> {
    for k in 0..=MAX_SUFFIX {
        let target_name = suffixed(name, k);
        let target = dir.join(&target_name);
        if exists(&target)? {
            continue;
        }
        let companion_target = match companion {
            Some((suffix, bytes)) => {
                let mut n = target_name.clone();
                n.push(suffix);
                let path = dir.join(n);
                match fs::read(&path) {
                    Ok(there) if there == bytes => {}
                    Ok(_) => continue,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        publish(dir, &path, &target_name, bytes)?;
                    }
                    Err(e) => return Err(e),
                }
                Some(path)
            }
            None => None,
        };
        fs::rename(src, &target)?;
        sync_dir(dir);
        if let Some(parent) = src.parent() {
            sync_dir(parent);
        }
        fault("filed");
        return Ok((target, companion_target));
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "no free name for {} in {}",
            name.to_string_lossy(),
            dir.display()
        ),
    ))
}

/// Writes `bytes` durably under `path` in `dir`, whole or not at all: a
/// flushed temp file renamed into place, the directory flushed before the
/// file it accompanies is renamed beside it.
fn publish(dir: &Path, path: &Path, name: &OsStr, bytes: &[u8]) -> io::Result<()> {
    let tmp = write_temp(dir, name, bytes)?;
    fault("companion-written");
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir);
    fault("companion-placed");
    Ok(())
}

/// Whether `name` is one of [`write_temp`]'s temp files.
fn is_temp_name(name: &OsStr) -> bool {
    let n = name.to_string_lossy();
    n.starts_with('.') && n.ends_with(".tmp")
}

/// Removes the temp files a crash left in `dir` (only loket writes there,
/// and only under the inbox's lock).
fn sweep_temp_files(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if is_temp_name(&entry.file_name()) && entry.file_type().is_ok_and(|t| t.is_file()) {
            fs::remove_file(entry.path())?;
            tracing::info!(dir = %dir.display(), file = %entry.file_name().to_string_lossy(), "dropfolder: removed a temp file left by an interrupted run");
        }
    }
    Ok(())
}

/// Takes the inbox's lock file in `work/`, so that one watcher at a time
/// (in any process) moves its files; the lock goes with the process.
fn lock_inbox(work: &Path) -> Result<fs::File> {
    let path = work.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => bail!(
            "een andere loket bewaakt deze inbox al / another loket already watches this inbox"
        ),
        Err(fs::TryLockError::Error(e)) => {
            Err(anyhow::Error::new(e).context(format!("cannot lock {}", path.display())))
        }
    }
}

/// The test-only fault hook: aborts the process right after `step` when
/// [`FAULT_ENV`] names it, as a kill -9 there would.
fn fault(step: &'static str) {
    super::fault(FAULT_ENV, step);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_names() {
        for n in ["WMO301.xml", "a", "x.TMPL", "partial.xml"] {
            assert!(is_ready_name(OsStr::new(n)), "{n}");
        }
        for n in [
            ".WMO301.xml",
            "WMO301.xml.tmp",
            "WMO301.xml.part",
            "X.PART",
            "y.Tmp",
        ] {
            assert!(!is_ready_name(OsStr::new(n)), "{n}");
        }
    }

    #[test]
    fn suffixes_go_before_the_extension() {
        assert_eq!(suffixed(OsStr::new("WMO301.xml"), 0), "WMO301.xml");
        assert_eq!(suffixed(OsStr::new("WMO301.xml"), 2), "WMO301.2.xml");
        assert_eq!(suffixed(OsStr::new("bericht"), 1), "bericht.1");
        assert_eq!(suffixed(OsStr::new("a.b.xml"), 3), "a.b.3.xml");
    }

    #[test]
    fn filing_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path();
        let out = inbox.join("out");
        fs::create_dir(&out).unwrap();
        // A stray companion blocks the plain name; an existing file blocks .1.
        fs::write(out.join("m.xml.retour.xml"), "old retour").unwrap();
        fs::write(out.join("m.1.xml"), "old message").unwrap();
        fs::write(inbox.join("m.xml"), "new message").unwrap();
        let (path, retour) = file_away(
            &inbox.join("m.xml"),
            &out,
            OsStr::new("m.xml"),
            Some((".retour.xml", b"new retour")),
        )
        .unwrap();
        assert_eq!(path, out.join("m.2.xml"));
        assert_eq!(retour, Some(out.join("m.2.xml.retour.xml")));
        assert_eq!(fs::read_to_string(&path).unwrap(), "new message");
        assert_eq!(fs::read_to_string(retour.unwrap()).unwrap(), "new retour");
        assert_eq!(
            fs::read_to_string(out.join("m.xml.retour.xml")).unwrap(),
            "old retour"
        );
        assert_eq!(
            fs::read_to_string(out.join("m.1.xml")).unwrap(),
            "old message"
        );
        assert!(!inbox.join("m.xml").exists());
        // No temp files are left behind.
        let hidden: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(hidden.is_empty(), "{hidden:?}");
    }

    #[test]
    fn a_companion_left_by_an_interrupted_attempt_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        let out = dir.path().join("out");
        fs::create_dir(&work).unwrap();
        fs::create_dir(&out).unwrap();
        // The retour was placed, then the process died before filing m.xml.
        fs::write(out.join("m.xml.retour.xml"), "the retour").unwrap();
        fs::write(out.join(".m.xml.0190.tmp"), "half").unwrap();
        fs::write(work.join("m.xml"), "message").unwrap();
        sweep_temp_files(&out).unwrap();
        let (path, retour) = file_away(
            &work.join("m.xml"),
            &out,
            OsStr::new("m.xml"),
            Some((".retour.xml", b"the retour")),
        )
        .unwrap();
        assert_eq!(path, out.join("m.xml"));
        assert_eq!(retour, Some(out.join("m.xml.retour.xml")));
        let mut names: Vec<String> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["m.xml", "m.xml.retour.xml"]);
        assert!(!work.join("m.xml").exists());
    }

    #[test]
    fn size_limit_is_checked_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.xml");
        fs::write(&p, vec![b'x'; 11]).unwrap();
        assert_eq!(read_limited(&p, 10).unwrap(), Err(11));
        assert_eq!(read_limited(&p, 11).unwrap(), Ok(vec![b'x'; 11]));
    }
}
