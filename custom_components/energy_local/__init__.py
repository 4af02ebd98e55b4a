"""Energy Local: EKM Omnimeters on RS-485 and Powersensor plugs on the LAN, with no cloud."""

from __future__ import annotations

DOMAIN = "energy_local"
