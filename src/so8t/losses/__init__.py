"""Training losses beyond the language-model loss."""

from so8t.losses.pet import PetSchedule, pet_penalty

__all__ = ["PetSchedule", "pet_penalty"]
