//! The UBL syntax binding's rules UBL-CR (elements EN 16931 does not use), UBL-SR (occurrence) and UBL-DT (data types).

use super::Meaning;

pub(super) const MEANINGS: &[Meaning] = &[];
