"""The answer runtimes on the embedded model: llama.cpp on the cached baked GGUF, and the choice between runtimes.

llama-cpp-python is installed by scripts/setup.sh; these tests import it directly so a missing binding fails.
"""

import json
import shutil

import llama_cpp  # noqa: F401  (the binding must be installed: setup.sh installs so8t[llamacpp])
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from typer.testing import CliRunner

from so8t.agent import SHIPPED_RUN
from so8t.answering import LlamaCppAnswerer, load_answerer
from so8t.cli import app
from so8t.export.gguf_cache import GgufCacheError, cached_gguf
from so8t.export.gguf_export import write_gguf
from so8t.export.llamacpp import LlamaCppModel
from so8t.models import load_model
from so8t.models.pull import sha256_file

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def chat_ids(tokenizer, messages=QUESTION) -> list[int]:
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)["input_ids"]


@pytest.fixture(scope="module")
def shipped_gguf(embedded_model_dir):
    return cached_gguf(embedded_model_dir, SHIPPED_RUN)


def test_llama_cpp_greedy_decodes_what_transformers_decodes(embedded_model_dir, tmp_path):
    """On an f32 export the two runtimes compute the same function, so greedy answers agree token for token."""
    model, tokenizer = load_model(embedded_model_dir)
    ids = chat_ids(tokenizer, [{"role": "user", "content": "Name three colours of the rainbow."}])
    with torch.no_grad():
        reference = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                   do_sample=False, max_new_tokens=16, pad_token_id=tokenizer.pad_token_id)
    expected = [t for t in reference[0, len(ids):].tolist() if t != tokenizer.eos_token_id]
    gguf_file = write_gguf(embedded_model_dir, tmp_path / "smollm2-f32.gguf", "f32")
    with LlamaCppModel(gguf_file, n_ctx=256, all_logits=False) as llm:
        assert llm.greedy(ids, 16, {tokenizer.eos_token_id}) == expected
        # the system-prompt prefix is reused from the cache; the answer must not depend on what came before
        assert llm.greedy(ids[:-3], 4, set()) and llm.greedy(ids, 16, {tokenizer.eos_token_id}) == expected
        # a primed prefix is skipped by the next prompt that starts with it, with the same answer
        llm.prime(ids[:10])
        assert llm.cached_tokens == ids[:10]
        assert llm.greedy(ids, 16, {tokenizer.eos_token_id}) == expected
        forced = llm.greedy(ids, 24, {tokenizer.eos_token_id}, min_new_tokens=24)
        assert len(forced) == 24 and tokenizer.eos_token_id not in forced
        with pytest.raises(ValueError, match="exceed the llama.cpp context"):
            llm.greedy(ids, 256, set())


def test_answers_do_not_depend_on_the_thread_count(shipped_gguf, embedded_model_dir):
    """The runtime picks its threads per request (cpu_share.py); every output row is one thread's work, so
    the tokens must come out the same with one thread as with two."""
    tokenizer = load_answerer(None, SHIPPED_RUN, "llama.cpp").tokenizer
    ids = chat_ids(tokenizer, [{"role": "user", "content": "Give two tips for a tidy desk."}])
    answers = []
    for threads in (1, 2):
        with LlamaCppModel(shipped_gguf.path, n_ctx=256, n_threads=threads, all_logits=False) as llm:
            assert llm.threads == threads
            answers.append(llm.greedy(ids, 32, {tokenizer.eos_token_id}))
    assert answers[0] == answers[1] and len(answers[0]) > 8


def test_shipped_run_is_baked_once_and_answers(shipped_gguf, embedded_model_dir):
    sidecar = json.loads(shipped_gguf.path.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["sha256"] == shipped_gguf.sha256 == sha256_file(shipped_gguf.path)
    assert sidecar["sources"]["adapter"] == sha256_file(SHIPPED_RUN / "adapter" / "adapter_model.safetensors")
    assert sidecar["sources"]["gates"] == sha256_file(SHIPPED_RUN / "gates.safetensors")
    built_at = shipped_gguf.path.stat().st_mtime_ns
    assert cached_gguf(embedded_model_dir, SHIPPED_RUN).path == shipped_gguf.path
    assert shipped_gguf.path.stat().st_mtime_ns == built_at, "a cached GGUF was rebuilt"
    assert cached_gguf(embedded_model_dir, None).path != shipped_gguf.path, "the base alone is another model"

    loaded = load_answerer(None, SHIPPED_RUN, "llama.cpp")
    assert isinstance(loaded.answerer, LlamaCppAnswerer) and loaded.head is None
    assert loaded.answerer.model._cpu_share is not None, "the agent's runtime must fit its threads to the CPU"
    assert loaded.hashes == {"answer_gguf": shipped_gguf.sha256}
    assert "Paris" in loaded.answerer.answer(chat_ids(loaded.tokenizer), 24)
    # forget() drops what requests left behind but keeps the prefix primed at start-up
    prefix = chat_ids(loaded.tokenizer)[:8]
    loaded.answerer.prime(prefix)
    assert "Paris" in loaded.answerer.answer(chat_ids(loaded.tokenizer), 24)
    assert len(loaded.answerer.model.cached_tokens) > len(prefix)
    loaded.answerer.forget()
    assert loaded.answerer.model.cached_tokens == prefix


def test_a_changed_cache_file_is_refused(shipped_gguf, embedded_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SO8T_CACHE", str(tmp_path))
    (tmp_path / "gguf").mkdir()
    copy = shutil.copyfile(shipped_gguf.path, tmp_path / "gguf" / shipped_gguf.path.name)
    shutil.copyfile(shipped_gguf.path.with_suffix(".json"), copy.with_suffix(".json"))
    assert cached_gguf(embedded_model_dir, SHIPPED_RUN).sha256 == shipped_gguf.sha256
    with open(copy, "r+b") as handle:
        handle.seek(copy.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(GgufCacheError, match="changed after it was built"):
        cached_gguf(embedded_model_dir, SHIPPED_RUN)


def test_a_run_on_another_base_is_refused(embedded_model_dir, tmp_path):
    other = tmp_path / "other-llama"
    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2)
    LlamaForCausalLM(config).save_pretrained(other)
    with pytest.raises(ValueError, match="was trained on 'smollm2-135m'"):
        load_answerer(str(other), SHIPPED_RUN, "llama.cpp")


@pytest.mark.parametrize("backend, use_head, message", [
    ("llama.cpp", True, "use the transformers backend"),
    ("onnx", False, "unknown answer backend 'onnx'"),
])
def test_backend_choice_errors_name_the_problem(embedded_model_dir, backend, use_head, message):
    with pytest.raises(ValueError, match=message):
        load_answerer(None, SHIPPED_RUN, backend, use_head)


def test_ask_cli_rejects_an_unknown_backend(embedded_model_dir, tmp_path):
    result = CliRunner().invoke(app, ["ask", "--db", str(tmp_path / "a.db"), "--backend", "onnx", "hello"])
    assert result.exit_code == 2 and "unknown answer backend" in result.output
