"""Ollama Modelfile: the ChatML Go template must prompt exactly as the model's own chat template does."""

from __future__ import annotations

import re

import pytest
from transformers import AutoTokenizer

from so8t.export import UnsupportedChatTemplateError, export_ollama, write_gguf
from so8t.export.ollama import CHATML_TEMPLATE, chat_format


@pytest.fixture(scope="module")
def tiny_gguf(qwen2vl_export_dir, tmp_path_factory):
    return write_gguf(qwen2vl_export_dir, tmp_path_factory.mktemp("ollama") / "tiny.gguf", "q8_0")


def _render_chatml_like_ollama(messages: list[dict[str, str]], system: str | None) -> str:
    """What Ollama sends for CHATML_TEMPLATE: SYSTEM is prepended when the chat has no system message."""
    if system and messages[0]["role"] != "system":
        messages = [{"role": "system", "content": system}, *messages]
    body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return body + "<|im_start|>assistant\n"


def test_modelfile_matches_the_models_chat_template(qwen2vl_export_dir, tiny_gguf):
    modelfile = export_ollama(tiny_gguf, tiny_gguf.parent).read_text()

    assert modelfile.startswith("FROM ./tiny.gguf\n")
    template = re.search(r'TEMPLATE """(.*?)"""', modelfile, re.S).group(1)
    assert template == CHATML_TEMPLATE
    system = re.search(r'SYSTEM """(.*?)"""', modelfile, re.S).group(1)
    assert system == "You are a careful assistant."  # the template's own default system prompt
    assert re.findall(r'PARAMETER stop "(.*?)"', modelfile) == ["<|im_end|>", "<|im_start|>"]

    tokenizer = AutoTokenizer.from_pretrained(qwen2vl_export_dir)
    for chat in ([{"role": "user", "content": "Is this link safe?"}],
                 [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                  {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}]):
        expected = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        assert _render_chatml_like_ollama(chat, system) == expected


def test_custom_system_prompt_and_absolute_source(tiny_gguf, tmp_path):
    modelfile = export_ollama(tiny_gguf, tmp_path / "elsewhere", system_prompt="Judge screenshots for scams.",
                              num_ctx=2048).read_text()

    assert f"FROM {tiny_gguf.resolve()}\n" in modelfile
    assert 'SYSTEM """Judge screenshots for scams."""' in modelfile
    assert "PARAMETER num_ctx 2048" in modelfile
    assert not list((tmp_path / "elsewhere").glob("*.gguf"))  # weights are referenced, never copied


def test_non_chatml_template_is_refused():
    llama3_like = (
        "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>"
        "{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    )
    with pytest.raises(UnsupportedChatTemplateError, match="does not render ChatML"):
        chat_format(llama3_like)


def test_gguf_without_chat_template_is_refused(tmp_path):
    from gguf import GGUFWriter

    bare = tmp_path / "bare.gguf"
    writer = GGUFWriter(bare, "llama")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    writer.close()
    with pytest.raises(UnsupportedChatTemplateError, match="no tokenizer.chat_template"):
        export_ollama(bare, tmp_path)
