"""EKM ioStacks on a bus, read through EKM's own ekmdevice library."""
