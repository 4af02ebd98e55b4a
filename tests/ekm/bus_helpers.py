"""What the bus tests share: the simulated meters' addresses and the host's side of the wire."""

from simulators.ekm_bus import Direction, EkmBusSimulator

V4 = "000300001285"
V3 = "000010006388"


def host_frames(sim: EkmBusSimulator) -> list[bytes]:
    """Every frame the bus sent, in order."""
    return [entry.data for entry in sim.transcript if entry.direction is Direction.HOST]
