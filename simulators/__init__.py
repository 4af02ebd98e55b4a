"""Device simulators that speak the real protocols: an EKM RS-485 bus and Powersensor plugs."""
