//! Registry v2 authentication (stub; being written).
