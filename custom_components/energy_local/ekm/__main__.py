"""Entry point of ``python -m custom_components.energy_local.ekm``."""

import sys

from .cli import main

sys.exit(main())
