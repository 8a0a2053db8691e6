"""``python -m detector.data.corpus_build``: see ``build.main``."""

from detector.data.corpus_build.build import main

main()
