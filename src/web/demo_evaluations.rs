//! The demo's goals, evaluation plans, evaluations and day notes (`loket
//! serve --demo`).
