//! LED boards: slogan rotation, now playing, emergencies, per-preset payloads.
