//! Mounts the dashboard on the page's body.

fn main() {}
