//! Tandem's dashboard: create, pair, watch, list and delete pairings in the browser.
