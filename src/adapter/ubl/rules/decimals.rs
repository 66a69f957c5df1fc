//! EN 16931's BR-DEC-*: amounts with at most two decimals.

use super::Meaning;

pub(super) const MEANINGS: &[Meaning] = &[];
