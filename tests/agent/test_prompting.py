"""How a request and its images reach the model: image text fenced as untrusted data, the user's words last."""

from pathlib import Path

from so8t.ocr import summarize_image
from so8t.prompting import with_image_summaries

NOTICE = Path(__file__).resolve().parents[2] / "samples" / "notice.png"


def test_the_question_follows_the_fenced_image_text():
    summary = summarize_image(NOTICE.read_bytes())
    question = "What does this notice say about the workshop fee?"
    prompt = with_image_summaries(question, [summary, summary])
    assert prompt.endswith(question)
    assert prompt.count("<<<END UNTRUSTED OCR TEXT>>>") == 2
    assert prompt.rindex("<<<END UNTRUSTED OCR TEXT>>>") < prompt.index(question)
    assert "¥500" in prompt  # the summary's content is there, quoted


def test_a_prompt_without_images_is_passed_through_unchanged():
    assert with_image_summaries("Hello there", []) == "Hello there"
