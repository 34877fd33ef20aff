"""so8t: a local, privacy-first safety agent and fine-tuning toolkit with SO(8) rotation gates."""

__version__ = "0.1.0"
