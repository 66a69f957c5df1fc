//! EN 16931's own rules BR-01..BR-65: what an invoice must hold, and what belongs together.

use super::Meaning;

pub(super) const MEANINGS: &[Meaning] = &[];
