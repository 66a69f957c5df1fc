//! Tests of the iStandaarden adapter against the fixtures.
