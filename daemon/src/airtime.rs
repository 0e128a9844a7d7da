//! The airtime log (SPEC section 7): one SQLite row per aired item.
