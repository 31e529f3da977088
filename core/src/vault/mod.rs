//! The few Vault operations the core needs, behind one interface (being written).
