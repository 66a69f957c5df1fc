//! Adapters: one per family of message standards. Each adapter has the same
//! rooms: `config` (limits and settings), `decode` (wire format -> checked
//! model), `encode` (model -> wire format) and `tests`.

pub mod istandaard;
