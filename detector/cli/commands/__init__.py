"""One module per ``detector`` subcommand, each with ``register(subparsers)`` and ``run(args)``."""
