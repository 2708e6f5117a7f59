//! Nothing to run: the Terraform lives beside this crate, and `tests/` checks it against the code.
