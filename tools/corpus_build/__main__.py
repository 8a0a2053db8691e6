"""``python -m tools.corpus_build``: see ``build.main``."""

from tools.corpus_build.build import main

main()
