"""The Powersensor home family: one config entry for every plug of a home and what they relay."""
