//! The Dutch rules NL-R-* (NLCIUS, and Peppol BIS for a Dutch seller).

use super::Meaning;

pub(super) const MEANINGS: &[Meaning] = &[];
