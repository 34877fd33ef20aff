import json

import pytest

from so8t.training.data import IGNORE, DataError, collate, encode_row, read_rows


def write(tmp_path, rows):
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows))
    return path


def test_only_assistant_tokens_are_labeled(smol):
    _, tokenizer = smol
    row = {"messages": [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Teal."},
                        {"role": "user", "content": "Another?"}, {"role": "assistant", "content": "Amber."}],
           "label": "ALLOW"}
    example = encode_row(row, tokenizer, max_length=512)
    learned = tokenizer.decode([t for t, lab in zip(example.input_ids, example.labels) if lab != IGNORE])
    assert "Teal." in learned and "Amber." in learned
    assert "colour" not in learned and "Another" not in learned
    assert tokenizer.decode(example.input_ids[: example.pool_index + 1]).rstrip().endswith("assistant")
    assert example.safety_label == 0
    batch = collate([example, encode_row({"messages": row["messages"][:2]}, tokenizer, 512)], tokenizer.pad_token_id)
    assert batch["attention_mask"][1].sum() < batch["attention_mask"][0].sum()
    assert batch["safety_label"].tolist() == [0, IGNORE]


@pytest.mark.parametrize("line, message", [
    ("{oops", r"rows.jsonl:2: not valid JSON"),
    (json.dumps({"messages": [{"role": "user", "content": "hi"}]}), "no assistant message"),
    (json.dumps({"messages": [{"role": "bot", "content": "hi"}]}), r"messages\[0\] needs role"),
    (json.dumps({"messages": [{"role": "assistant", "content": "x"}], "label": "MAYBE"}), "label must be one of"),
    (json.dumps({"messages": [{"role": "assistant", "content": "x"}], "colour": 1}), "unknown field"),
])
def test_bad_rows_are_named_by_line(tmp_path, line, message):
    good = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}
    with pytest.raises(DataError, match=message):
        read_rows(write(tmp_path, [good, line]))
