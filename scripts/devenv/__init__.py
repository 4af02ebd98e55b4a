"""A real Home Assistant with simulated hardware, for ``scripts/develop`` and the e2e tests.

How isolation is ensured: when running as root with ``ip`` available, every process we start
(the simulators and Home Assistant) runs inside a network namespace of our own whose only
interface is loopback, with a multicast route on it. Nothing in it can reach another
address: there is no other interface and no default route, so even DNS fails at once, and
zeroconf/SSDP multicast stays on that loopback. The host reaches the UI through a TCP
forwarder (:mod:`.forward`) that listens on the host's 127.0.0.1 only and opens its
connections from a thread that has entered the namespace (``setns``).

Without root or ``ip`` the stack runs on the host's loopback instead, with a configuration that
leaves out every integration that talks to the network or multicasts (see :mod:`.haconfig`).
"""
