//! Adapters: one per family of message standards. Each adapter has the same
//! rooms: `config` (limits and settings), `decode` (wire format -> checked
//! model), `encode` (model -> wire format) and `tests`. What every adapter
//! shares lives beside them: reading XML safely ([`xml`]) and the normalized
//! declaration line both declaration formats come down to ([`lines`]).

pub mod istandaard;
pub mod lines;
pub mod ubl;
pub mod xml;
