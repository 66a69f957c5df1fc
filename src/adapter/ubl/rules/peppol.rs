//! Peppol BIS Billing 3.0's rules PEPPOL-EN16931-* and PEPPOL-COMMON-*.

use super::Meaning;

pub(super) const MEANINGS: &[Meaning] = &[];
