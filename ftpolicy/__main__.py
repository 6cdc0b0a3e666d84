"""Allow ``python -m ftpolicy``."""

from ftpolicy.cli.main import main

main()
