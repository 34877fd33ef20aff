"""bench/judge/fresh.py: its prompts measure the judge on wording it never saw, so none may enter the data, and the
script refuses to run if one does."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench" / "judge"))

import fresh  # noqa: E402

from so8t.safety.dataset import iter_rows, texts_in_data  # noqa: E402


def _all_prompts() -> list[str]:
    rounds = [fresh.read_round(number) for number in fresh.round_numbers()]
    return [text for prompts in rounds for label in ("benign", "harmful") for texts in prompts[label].values()
            for text in texts]


def test_fresh_prompts_are_distinct_and_not_in_the_data():
    assert fresh.round_numbers() == [1, 2, 3]
    for number in fresh.round_numbers():
        prompts = fresh.read_round(number)
        assert {lang for label in ("benign", "harmful") for lang in prompts[label]} == {"en", "ja"}, number
    prompts = _all_prompts()
    assert len(prompts) == len(set(prompts)) == 180 + 240
    assert texts_in_data(prompts) == []


def test_a_prompt_that_is_in_the_data_is_caught(monkeypatch):
    known = next(iter_rows()).text
    respaced = "  " + known.upper().replace(" ", "   ") + " "
    assert texts_in_data([known, respaced, "A prompt written for this test alone."]) == [known, respaced]
    monkeypatch.setattr(fresh, "read_round", lambda number: {"benign": {"en": [known], "ja": []},
                                                              "harmful": {"en": [], "ja": []}})
    monkeypatch.setattr(sys, "argv", ["fresh.py", "--round", "1"])
    with pytest.raises(SystemExit, match="in the training data"):
        fresh.main()
