"""Entry point of ``python -m custom_components.energy_local.powersensor``."""

import sys

from .cli import main

sys.exit(main())
