"""`python -m apsara_tui` is `apsara`."""

from apsara_tui.cli import main

main()
