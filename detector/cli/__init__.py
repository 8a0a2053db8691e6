"""The ``detector`` command line: :mod:`.main` parses, each subcommand lives in :mod:`.commands`."""
