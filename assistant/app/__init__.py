"""What callers use: the Assistant (wiring every stage for one corpus), conversations, the eval harness, index
status. The command line (assistant/cli.py) sits above every stage, as it starts the web UI too."""
