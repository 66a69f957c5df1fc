//! Trains the zstd dictionary stored messages are compressed with
//! (`schemas/store/messages-N.zdict`, see `src/store/body.rs`) from the
//! project's own valid messages of both standards and the retourberichten
//! loket builds for them: the same vocabulary as what a tenant stores.
//!
//!     cargo run --example train_message_dictionary -- schemas/store/messages-2.zdict
//!
//! A dictionary in use is never changed: rows compressed with it need it to
//! be read. A better one gets the next number and its own `raw_encoding`.

use std::path::Path;

use loket::adapter::istandaard::{self, Limits, RetourSettings};
use loket::schema::Schema;

/// zstd's recommended size for dictionaries of small similar documents.
const SIZE: usize = 16 * 1024;

fn main() -> anyhow::Result<()> {
    let out = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: train_message_dictionary OUT.zdict"))?;
    let schema = Schema::builtin()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut samples: Vec<Vec<u8>> = Vec::new();
    for std in ["iwmo", "ijw"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(std).join("valid"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f)?;
            let checked = istandaard::check(schema, &bytes, &Limits::default())?;
            if let Ok(retour) = istandaard::retour_xml(&checked, &RetourSettings::default()) {
                samples.push(retour.into_bytes());
            }
            samples.push(bytes);
        }
    }
    // The trainer wants many samples; these are few and varied, so each
    // counts several times (as it would in a tenant's table).
    let repeated: Vec<&[u8]> = (0..8)
        .flat_map(|_| samples.iter().map(Vec::as_slice))
        .collect();
    let dict = zstd::dict::from_samples(&repeated, SIZE)?;
    std::fs::write(&out, &dict)?;
    println!(
        "{out}: {} bytes from {} messages",
        dict.len(),
        samples.len()
    );
    Ok(())
}
