//! loket's own business checks LOKET-*.

use super::Meaning;

pub(super) const MEANINGS: &[Meaning] = &[];
