"""``python -m detector`` (also what ``torchrun -m detector`` runs)."""
import sys

from detector.cli.main import main

sys.exit(main())
