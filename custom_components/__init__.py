"""Custom integrations (a package, so the protocol libraries run with ``python -m``)."""
