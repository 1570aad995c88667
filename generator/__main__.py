"""Allow `python -m generator`."""

from generator import main

main()
