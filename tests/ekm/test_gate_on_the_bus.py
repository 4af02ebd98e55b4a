"""The gate on real frames: the simulator's CRC escapes pass the bus, the gate stops them."""

from typing import cast

from custom_components.energy_local.ekm import EkmBus
from custom_components.energy_local.ekm.gate import TOTAL_FIELDS, GateEventKind, TotalsGate
from custom_components.energy_local.ekm.models import MeterReading
from simulators.ekm_bus import EkmBusSimulator, FaultKind

from .bus_helpers import V3, V4

POLLS = 150
POLL_SECONDS = 600.0  # simulated: enough for every total to move between polls


async def test_escapes_never_reach_the_published_totals(sim: EkmBusSimulator, bus: EkmBus) -> None:
    """20 % of replies carry a one-digit escape with a valid CRC; nothing published spikes."""
    sim.faults.set_probability(FaultKind.CRC_ESCAPE, 0.2)
    gates = {V4: TotalsGate(), V3: TotalsGate()}
    last: dict[str, dict[str, float]] = {V4: {}, V3: {}}
    for _ in range(POLLS):
        sim.clock.advance(POLL_SECONDS)
        for address, version in ((V4, 4), (V3, 3)):
            reading = await bus.read_meter(address, version)
            honest = cast("dict[str, float]", sim.meters[address].values())
            gated: MeterReading = gates[address].check(reading, sim.clock.now()).apply(reading)
            for name in TOTAL_FIELDS:
                value = cast("float | None", gated.values.get(name))
                if value is None:
                    continue
                # Never above the meter's true register, never below what was published.
                assert value <= honest[name] + 1e-6, (name, value, honest[name])
                assert value >= last[address].get(name, 0.0) - 1e-6, name
                last[address][name] = value
    escapes = len(sim.faults.escapes)
    assert escapes > 50
    counters = [gate.counters for gate in gates.values()]
    assert sum(c.reset for c in counters) == 0
    assert sum(c.inconsistent + c.held for c in counters) > escapes // 2
    assert all(gate.published for gate in gates.values())
    kinds = {e.kind for gate in gates.values() for frame in gate.recent for e in frame.events}
    assert GateEventKind.INCONSISTENT in kinds

    # Nothing froze: once the line is clean, every total is one poll behind the meter.
    sim.faults.clear()
    for address, version in ((V4, 4), (V3, 3)):
        sim.clock.advance(POLL_SECONDS)
        reading = await bus.read_meter(address, version)
        gates[address].check(reading, sim.clock.now())
        previous = {n: v for n, v in reading.values.items() if n in TOTAL_FIELDS}
        sim.clock.advance(POLL_SECONDS)
        reading = await bus.read_meter(address, version)
        published = gates[address].check(reading, sim.clock.now()).values
        assert published == previous
