//! Folder delivery: the outbox writes a message as `<BerichtIdentificatie>.xml`
//! into the financier's outbound folder (a share the counterpart collects
//! from), the mirror of the inbound drop folder.
//!
//! A reader never sees half a file: the message is written under a hidden
//! temp name, flushed to disk, then given its name, and the directory is
//! flushed too, so "delivered" means it survives a power cut. A name is
//! never overwritten: after a crash between writing and recording the
//! delivery, the resend finds its own identical file and counts as
//! delivered; a different message under the same identification (another
//! berichtsoort or another sender sharing the folder) gets the berichtsoort
//! and then the sender added to its name. A temp file left by a delivery
//! killed between writing and placing is removed by the next attempt at the
//! same message. No retourbericht comes back this way: the counterpart
//! answers through the inbound drop folder.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::Sent;
use super::dropfolder::{place, sync_dir, write_temp};

/// Delivers `xml` into `dir` (blocking work off the async threads);
/// `retry` when an earlier attempt at this message was made.
pub async fn deliver(
    dir: PathBuf,
    identificatie: String,
    bericht: String,
    sender: String,
    xml: Vec<u8>,
    retry: bool,
) -> Sent {
    let written = tokio::task::spawn_blocking(move || {
        write(&dir, &identificatie, &bericht, &sender, &xml, retry)
    })
    .await;
    match written {
        Ok(Ok(_)) => Sent::Delivered {
            status: None,
            answer: None,
            note: None,
        },
        // A share that is not mounted, a full disk, missing permissions:
        // all things that get fixed outside loket, so keep trying.
        Ok(Err(e)) => Sent::Retry {
            status: None,
            error: format!("map/folder: {e}"),
            after: None,
        },
        Err(e) => Sent::Retry {
            status: None,
            error: format!("map/folder: {e}"),
            after: None,
        },
    }
}

/// Writes the message durably under the first free (or identical) name;
/// returns its path. A `retry` first removes what an earlier, interrupted
/// attempt may have left (a first attempt has nothing to sweep, and the
/// counterpart's share may hold many files to list).
pub fn write(
    dir: &Path,
    identificatie: &str,
    bericht: &str,
    sender: &str,
    xml: &[u8],
    retry: bool,
) -> io::Result<PathBuf> {
    let ident = safe(identificatie);
    let names = [
        format!("{ident}.xml"),
        format!("{ident}.{}.xml", safe(bericht)),
        format!("{ident}.{}.{}.xml", safe(bericht), safe(sender)),
    ];
    if retry {
        sweep_own_temps(dir, &names[0])?;
    }
    let tmp = write_temp(dir, OsStr::new(&names[0]), xml)?;
    let result = (|| {
        for name in &names {
            let target = dir.join(name);
            match place(&tmp, &target) {
                Ok(()) => {
                    sync_dir(dir);
                    return Ok(target);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    if fs::read(&target)? == xml {
                        return Ok(target);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} en varianten bestaan al met andere inhoud / {} and its variants exist with other content",
                names[0], names[0]
            ),
        ))
    })();
    // Gone when it was placed; left over otherwise.
    let _ = fs::remove_file(&tmp);
    result
}

/// Removes the temp files an earlier attempt at this same message left when
/// loket was killed between writing and placing it (the folder is the
/// counterpart's share: nothing else would ever clean them up). Only this
/// message's own temp names are touched, and one worker at a time delivers
/// a message (the outbox lease), so no attempt in progress loses its file.
fn sweep_own_temps(dir: &Path, name: &str) -> io::Result<()> {
    let prefix = format!(".{name}.");
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file = entry.file_name();
        let file = file.to_string_lossy();
        if file.starts_with(&prefix)
            && file.ends_with(".tmp")
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            fs::remove_file(entry.path())?;
            tracing::info!(dir = %dir.display(), "outbox folder: removed a temp file an interrupted delivery left");
        }
    }
    Ok(())
}

/// A file name part: the identification is alphanumeric by the standard,
/// but the folder must not be escaped whatever it holds.
fn safe(part: &str) -> String {
    part.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_whole_never_overwritten_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // What a delivery killed between writing and placing left behind,
        // and another message's temp file, which is not this one's to touch.
        fs::write(d.join(".ZL0001.xml.0190aaaa.tmp"), b"<a").unwrap();
        fs::write(d.join(".ZL0002.xml.0190bbbb.tmp"), b"<z").unwrap();
        let a = write(d, "ZL0001", "WMO315", "73730112", b"<a/>", true).unwrap();
        assert_eq!(a, d.join("ZL0001.xml"));
        assert!(!d.join(".ZL0001.xml.0190aaaa.tmp").exists(), "swept");
        fs::remove_file(d.join(".ZL0002.xml.0190bbbb.tmp")).expect("left alone");
        // The same message again (a resend after a crash): the same file.
        assert_eq!(
            write(d, "ZL0001", "WMO315", "73730112", b"<a/>", true).unwrap(),
            a
        );
        // Another berichtsoort, then another sender, with the same identification.
        let b = write(d, "ZL0001", "WMO317", "73730112", b"<b/>", false).unwrap();
        assert_eq!(b, d.join("ZL0001.WMO317.xml"));
        let c = write(d, "ZL0001", "WMO317", "12345678", b"<c/>", false).unwrap();
        assert_eq!(c, d.join("ZL0001.WMO317.12345678.xml"));
        assert_eq!(fs::read(&a).unwrap(), b"<a/>");
        assert_eq!(fs::read(&b).unwrap(), b"<b/>");
        // No temp files left behind; a path in the identification stays inside.
        let p = write(d, "../x", "WMO315", "1", b"<d/>", false).unwrap();
        assert_eq!(p, d.join("___x.xml"));
        let hidden = fs::read_dir(d)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .count();
        assert_eq!(hidden, 0);
    }
}
