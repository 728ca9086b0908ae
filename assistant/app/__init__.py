"""What callers use: the Assistant (wiring every stage for one corpus), conversations, the CLI, the eval
harness, index status."""
