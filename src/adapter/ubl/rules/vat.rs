//! EN 16931's VAT category families: BR-S, BR-Z, BR-E, BR-AE, BR-IC, BR-G, BR-O, BR-AF, BR-AG, BR-B.

use super::Meaning;

pub(super) const MEANINGS: &[Meaning] = &[];
