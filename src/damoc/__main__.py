"""``python -m damoc``."""

from damoc.cli import main

main()
