"""`python -m adcompiler.cli` is the `adc` command too."""
import sys

from . import main

sys.exit(main())
