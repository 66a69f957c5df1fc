//! EN 16931's calculation and consistency rules BR-CO-*.

use super::Meaning;

pub(super) const MEANINGS: &[Meaning] = &[];
