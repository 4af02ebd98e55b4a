"""The EKM bus family: one config entry per RS-485 port, meters and ioStacks as subentries."""
