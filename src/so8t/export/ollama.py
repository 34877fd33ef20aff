"""An Ollama Modelfile next to a GGUF: the prompt format, default system prompt and stop tokens.

Ollama formats chats with Go templates, not the Jinja template stored in the GGUF, so the exporter writes an
equivalent Go template. Translating arbitrary Jinja is not possible; instead the HF chat template is rendered
on probe conversations and must reproduce ChatML (the format of SmolLM2, Qwen2 and Qwen2-VL) exactly,
including any system prompt it inserts by default, before the ChatML Go template is written for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gguf import GGUFReader

CHATML_TEMPLATE = """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
"""
CHATML_STOPS = ("<|im_end|>", "<|im_start|>")

_PROBE_SYSTEM = "Probe system text."
_PROBE_TURNS = ("First probe question?", "First probe answer.", "Second probe question?")


class UnsupportedChatTemplateError(ValueError):
    """The chat template is not one the Modelfile writer can reproduce as a Go template."""


@dataclass(frozen=True)
class ChatFormat:
    """What Ollama needs to prompt the model exactly as the HF chat template does."""

    template: str
    stop: tuple[str, ...]
    default_system: str | None


def _chatml(messages: list[tuple[str, str]]) -> str:
    turns = "".join(f"<|im_start|>{role}\n{content}<|im_end|>\n" for role, content in messages)
    return turns + "<|im_start|>assistant\n"


def chat_format(jinja_template: str) -> ChatFormat:
    """Recognise the chat format of a Jinja chat template by rendering probe conversations through it."""
    from transformers.utils.chat_template_utils import render_jinja_template

    user, assistant, user2 = _PROBE_TURNS
    conversation = [("user", user), ("assistant", assistant), ("user", user2)]

    def render(messages: list[tuple[str, str]]) -> str:
        chats = [[{"role": role, "content": content} for role, content in messages]]
        rendered, _ = render_jinja_template(conversations=chats, chat_template=jinja_template,
                                            add_generation_prompt=True)
        return rendered[0]

    with_system = render([("system", _PROBE_SYSTEM), *conversation])
    without_system = render(conversation)
    if with_system != _chatml([("system", _PROBE_SYSTEM), *conversation]):
        raise UnsupportedChatTemplateError(
            "the chat template does not render ChatML (<|im_start|>role ... <|im_end|>); pass template= and stop= "
            f"explicitly. It rendered: {with_system[:200]!r}"
        )
    if without_system == _chatml(conversation):
        return ChatFormat(CHATML_TEMPLATE, CHATML_STOPS, default_system=None)
    prefix, marker, rest = without_system.partition("<|im_start|>system\n")
    default_system, end, tail = rest.partition("<|im_end|>\n")
    if prefix or not marker or not end or tail != _chatml(conversation):
        raise UnsupportedChatTemplateError(
            f"the chat template renders an unexpected prompt when no system message is given: {without_system[:200]!r}"
        )
    return ChatFormat(CHATML_TEMPLATE, CHATML_STOPS, default_system=default_system)


def gguf_chat_template(gguf_file: Path) -> str:
    """The Jinja chat template stored in a GGUF's metadata."""
    field = GGUFReader(gguf_file).get_field("tokenizer.chat_template")
    if field is None:
        raise UnsupportedChatTemplateError(f"{gguf_file} carries no tokenizer.chat_template to build a Modelfile from")
    return field.contents()


def _quoted(text: str) -> str:
    if '"""' in text:
        raise ValueError('Modelfile text cannot contain a triple quote (""")')
    return f'"""{text}"""'


def export_ollama(
    gguf_file: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    system_prompt: str | None = None,
    *,
    num_ctx: int = 4096,
    temperature: float | None = None,
) -> Path:
    """Write `out_dir/Modelfile` for the GGUF and return its path.

    FROM is relative when the GGUF lies inside out_dir (the folder can then be moved whole) and absolute
    otherwise; multi-GB weights are never copied.

    `system_prompt` becomes Ollama's SYSTEM, which Ollama sends whenever a chat has no system message of its
    own; without one, the chat template's built-in default system prompt (if any) is kept.
    """
    gguf_path, out = Path(gguf_file), Path(out_dir)
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {gguf_path}")
    fmt = chat_format(gguf_chat_template(gguf_path))
    out.mkdir(parents=True, exist_ok=True)
    gguf_abs, out_abs = gguf_path.resolve(), out.resolve()
    source = f"./{gguf_abs.relative_to(out_abs).as_posix()}" if gguf_abs.is_relative_to(out_abs) else str(gguf_abs)

    lines = [f"FROM {source}", f"TEMPLATE {_quoted(fmt.template)}"]
    system = system_prompt if system_prompt is not None else fmt.default_system
    if system:
        lines.append(f"SYSTEM {_quoted(system)}")
    lines += [f'PARAMETER stop "{stop}"' for stop in fmt.stop]
    lines.append(f"PARAMETER num_ctx {num_ctx}")
    if temperature is not None:
        lines.append(f"PARAMETER temperature {temperature}")
    modelfile = out / "Modelfile"
    modelfile.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return modelfile
