//! Tests against a live dev gateway; skipped unless npm test provides its URL.
