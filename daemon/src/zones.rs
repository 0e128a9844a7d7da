//! Zones: amplifier relays switched on before sound (preroll) and off after (hold).
