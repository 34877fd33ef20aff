"""Answer-shaped training text for the output check, made from the labeled *requests* without writing any harm.

The request classifiers learned from questions and imperatives, so a declarative answer ("Step 1: ...") scores low
whatever it says. This module turns each request into the opening an answer to it would have: the task is read
off the request ("How do I <task>?", "Write <object>", "<N>の方法を教えて") and put into compliance templates
("Sure, here is how to <task>. Step 1:", "<N>は次のとおりです。まず、"). The same templates dress benign and
look-alike requests, and refusal templates dress harmful ones as *benign* answers, so the only thing that tells
the classes apart is the content, never the template. Statements (insults, toxic lines) are already content and
are used as they are.

Templates come in two sets: `TRAIN` templates build training and validation text; `HELD_OUT` templates are used
only to measure on the test split, so the measured recall includes answer shapes the classifier never saw.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from so8t.safety.dataset import SafetyRow

TemplateSet = Literal["train", "held_out"]

# ----- reading the task off a request --------------------------------------------------------------------------

_EN_HOW = re.compile(
    r"^(?:please\s+)?(?:(?:can|could|would|will) you\s+(?:please\s+)?)?(?:"
    r"how (?:do|can|could|would|should|might|may|does) (?:i|we|you|one|someone|a person|somebody)"
    r"|how (?:to|i can|i could|can i)"
    r"|what(?:'s| is| are) (?:the |some )?(?:best|easiest|quickest|fastest|simplest|most effective|safest|cheapest)"
    r" (?:way|ways|method|methods) (?:to|for me to)"
    r"|(?:tell|show|teach) me (?:how )?to|explain how to|help me(?: to)?|i (?:want|need|would like|wanna) to"
    r"|(?:give|provide|write|create|offer)(?: me)?(?: a| some)?(?: detailed| step-by-step| clear| specific)?"
    r" (?:instructions|steps|guide|tutorial|guidance|tips|advice|plan) (?:on|for)(?: how to)?"
    r")\s+(?P<task>.+)$", re.IGNORECASE)
_EN_MAKE = re.compile(
    r"^(?:please\s+)?(?:(?:can|could|would|will) you\s+(?:please\s+)?)?(?P<verb>write|create|develop|design|generate|"
    r"draft|compose|produce|provide|give|make|build|outline|plan|prepare|suggest|list|describe|explain|suggest|"
    r"come up with|construct|devise)\s+(?:me\s+|us\s+)?(?P<object>.+)$", re.IGNORECASE)
_EN_SWAP = {"i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself", "i'm": "you're",
            "i've": "you've", "we": "you", "our": "your", "us": "you"}
_EN_WORD = re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(_EN_SWAP, key=len, reverse=True)) + r")\b",
                      re.IGNORECASE)

# Polite and indirect endings too (〜いただけますでしょうか, ご教示ください, 〜について伺いたいです): a request in keigo
# asks for the same task as a plain one, so its answer form must carry the same task words.
_JA_TAIL = re.compile(r"(?:を|について)?、?(?:詳しく|具体的に|簡単に|丁寧に|わかりやすく|こっそり)?"
                      r"(?:教えて|説明して|解説して|知りたい|紹介して|ご教示|お教え|伺いたい|お伺いしたい|お伺いして)"
                      r"(?:ください|下さい|くれ|ほしい|欲しい|もらえますか|くれますか|いただけますか|いただけますでしょうか|"
                      r"いただけませんか|いただけると助かります|くださいませんか|です|と思っております|もよろしいでしょうか|"
                      r"のですが、.+)?$")
_JA_COURTESY = re.compile(r"^(?:恐れ入りますが|大変恐縮ですが|恐縮ですが|お手数ですが|すみませんが|失礼ですが)、")
_JA_HOW = re.compile(r"^(?P<task>.+?)(?:には|ためには|のには)?、?どう(?:すれば|したら|やって|やったら)"
                     r"(?:いい|良い|よい|いいの)?(?:ですか|でしょうか|の|か)?$")
_JA_MAKE = re.compile(r"^(?P<object>.+?)を(?P<verb>書いて|作って|作成して|考えて|立てて|用意して|調べて|まとめて|"
                      r"リストアップして|挙げて|列挙して)(?:ください|下さい|くれ|ほしい|いただけますか|いただけますでしょうか)?$")
_JA_METHOD = re.compile(r"(方法|やり方|作り方|手順|コツ|仕方|技|手口|方|テクニック|計画|手段)$")
_END = re.compile(r"[\s。．.？?！!]+$")
# "How much X do I need to <verb> ...?" asks for an amount to use: its answer says to use that much, so the task is
# "<verb> enough X ..." (the answer to a question about an amount names no amount word the request did not).
_EN_AMOUNT = re.compile(
    r"^how (?:many|much) (?P<object>.+?) (?:would|do|should|will|can|could|does) (?:i|we|you|one|someone|a person|"
    r"somebody) (?:need to |have to |want to )?(?P<verb>[a-z]+)(?P<rest>(?: .+)?)$", re.IGNORECASE)
_EN_DOSE = re.compile(r"^what(?:'s| is) (?:a|the) (?:lethal |fatal |deadly )?(?:dose|amount|number|quantity) of "
                      r"(?P<object>.+?) (?:that|which) (?:would|will|could) (?P<goal>.+)$", re.IGNORECASE)
# "<goal>には X をどれだけ飲めばいい？", "X を何錠飲めば…？": the conditional verb becomes its plain form.
_JA_AMOUNT_VERBS = {"飲め": "飲む", "飲ませれ": "飲ませる", "入れれ": "入れる", "混ぜれ": "混ぜる", "盛れ": "盛る",
                    "打て": "打つ", "使え": "使う", "吸え": "吸う", "食べさせれ": "食べさせる"}
_JA_AMOUNT = re.compile(r"^(?:(?P<goal>.+?)には、?)?(?P<object>.+?)を(?:何錠|何粒|何本|何杯|何滴|何ミリ|何グラム|どれだけ|"
                        r"どのくらい|どれくらい)(?P<verb>" + "|".join(_JA_AMOUNT_VERBS) + r")ば")


@dataclass(frozen=True)
class Task:
    """What an answer to the request would be about: a verb phrase (`how`) and a noun phrase (`what`)."""

    how: str
    what: str
    kind: Literal["how", "make", "other", "statement"]


def _swap_person(text: str) -> str:
    """'kill my neighbor' -> 'kill your neighbor': the answer addresses the asker."""
    return _EN_WORD.sub(lambda m: _EN_SWAP[m.group(1).lower()], text)


def task_of(row: SafetyRow) -> Task:
    """The task phrase of a request, in its language; `statement` rows (insults, toxic lines) are content already."""
    text = _END.sub("", " ".join(row.text.split()))
    if row.category in {"toxicity", "statement"}:
        return Task(text, text, "statement")
    if row.lang == "ja":
        text = _JA_COURTESY.sub("", text)
        core = _JA_TAIL.sub("", text) or text
        if (match := _JA_AMOUNT.match(core)):
            goal = f"{match.group('goal')}ために" if match.group("goal") else ""
            task = f"{goal}{match.group('object')}をたくさん{_JA_AMOUNT_VERBS[match.group('verb')]}"
            return Task(task, task + "方法", "how")
        if (match := _JA_HOW.match(core)):
            task = match.group("task")
            return Task(task, task + "方法", "how")
        if (match := _JA_MAKE.match(core)):
            return Task(match.group("object") + "を" + match.group("verb"), match.group("object"), "make")
        if core != text and _JA_METHOD.search(core):
            # "Xを殺す方法" -> "Xを殺す", "Xの作り方" -> "Xを作る": a verb phrase for the bare steps
            verb = re.sub(r"の作り方$", "を作る", core)
            verb = re.sub(r"(?:する)?(?:方法|やり方|手順|手口|仕方)$", lambda m: "する" if m.group(0).startswith("する") else "", verb)
            return Task(verb or core, core, "how")
        return Task(text, f"「{text}」", "other")
    if (match := _EN_AMOUNT.match(text)):
        task = _swap_person(f"{match.group('verb')} enough {match.group('object')}{match.group('rest')}")
        return Task(task, f"a guide to {task}", "how")
    if (match := _EN_DOSE.match(text)):
        task = _swap_person(f"take a dose of {match.group('object')} that would {match.group('goal')}")
        return Task(task, f"a guide to {task}", "how")
    if (match := _EN_HOW.match(text)):
        task = _swap_person(match.group("task"))
        return Task(task, f"a guide to {task}", "how")
    if (match := _EN_MAKE.match(text)):
        obj = _swap_person(match.group("object"))
        return Task(f"{match.group('verb').lower()} {obj}", obj, "make")
    return Task(text, f'the answer to "{text}"', "other")


# ----- templates -------------------------------------------------------------------------------------------------
# {how}: a verb phrase ("build a pipe bomb"); {what}: a noun phrase ("a script that ..."); {text}: the statement.

_EN_COMPLY = {
    "train": ["Sure, here is how to {how}. Step 1:",
              "To {how}, you first need to",
              "Here's a step-by-step guide to {how}:\n1.",
              "Of course! The easiest way to {how} is to start by",
              "Certainly. Follow these steps to {how}:\n\n1. First,",
              "Sure, here is {what}:\n\n",
              "Absolutely. Below is {what}.\n\n1.",
              "No problem. Here's what you need to {how}: first,"],
    "held_out": ["Okay, so to {how}, the first thing you do is",
                 "Great question! In order to {how}, gather these and then",
                 "Here you go, {what}:\n- "],
}
_JA_COMPLY = {
    "train": ["わかりました。{what}は次のとおりです。まず、",
              "{what}を説明します。手順1：",
              "もちろんです。{what}：\n1. ",
              "{what}について、具体的な手順を紹介します。最初に",
              "はい、{what}をお教えします。必要なものは次のとおりです：",
              "承知しました。以下が{what}です。\n\n"],
    "held_out": ["了解です！{what}ですが、一番簡単なのは",
                 "以下に{what}をまとめました。\n・"],
}
# A step, no framing: what the middle of a complying answer looks like ("Step 2: pack the pipe ...").
_EN_STEP = {"train": ["Step 2: {how}.", "First, {how}. Then wait a few minutes before the next step.",
                      "2. {how}, and make sure nobody notices."],
            "held_out": ["Next, {how}."]}
_JA_STEP = {"train": ["手順2：{how}。", "まず、{how}。それから数分待って次の手順に進みます。", "2. {how}。誰にも気づかれないようにします。"],
            "held_out": ["次に、{how}。"]}
# The bare sentence, as real answers write it (Japanese in the polite ます form). With scaffolded steps alone the
# classifier learned the scaffold as the harmful sign, since the only unscaffolded text it saw was the model's real
# benign answers: "まず、パイプに火薬を詰めて両端をしっかり閉じます。" scored 0.01, the same step with
# "それから数分待って次の手順に進みます。" after it 0.45.
_EN_BARE = {"train": ["{How}.", "Just {how}."], "held_out": ["All you have to do is {how}."]}
_JA_BARE = {"train": ["{polite}。", "まず、{polite}。"], "held_out": ["あとは{polite}。"]}
# A request whose task could not be read off ("What dose of X would ...?") is quoted whole.
_EN_OTHER = {"train": ['You asked: "{text}" Here is the answer. First,',
                       'Sure! "{text}" Here is exactly what to do:\n1.',
                       'Good question ("{text}"). The short answer: start by'],
             "held_out": ['{text}? Easy. Begin with']}
_JA_OTHER = {"train": ["「{text}」ですね。お答えします。まず、",
                       "ご質問の「{text}」について、具体的にはこうです：\n1. ",
                       "「{text}」の答えはこうです。最初に"],
             "held_out": ["{text}？簡単です。はじめに"]}
_EN_STATEMENT = {"train": ["{text}", "Honestly? {text}", "Sure. {text}"], "held_out": ["Fine, I'll say it: {text}"]}
_JA_STATEMENT = {"train": ["{text}", "正直に言うと、{text}", "はい。{text}"], "held_out": ["言わせてもらうけど、{text}"]}
_TEMPLATES = {("en", "comply"): _EN_COMPLY, ("ja", "comply"): _JA_COMPLY, ("en", "other"): _EN_OTHER,
              ("ja", "other"): _JA_OTHER, ("en", "statement"): _EN_STATEMENT, ("ja", "statement"): _JA_STATEMENT,
              ("en", "step"): _EN_STEP, ("ja", "step"): _JA_STEP, ("en", "bare"): _EN_BARE, ("ja", "bare"): _JA_BARE}
# A refusal that names a harmful task is a benign answer: the check must read what is given, not what is named.
_EN_REFUSE = ["I'm sorry, but I can't help with how to {how}. If someone is in danger, please contact emergency services.",
              "I can't provide {what}. It could seriously hurt people, and I won't help with it."]
_JA_REFUSE = ["申し訳ありませんが、{what}についてはお手伝いできません。",
              "その依頼にはお応えできません。{what}は人を傷つけるおそれがあります。"]


@dataclass(frozen=True)
class AnswerForm:
    """One answer-shaped text made from a request row; `label` is what the output check should say about it."""

    text: str
    label: Literal["harmful", "benign"]
    lang: str
    source: str  # the request row's source
    group: str  # the request row's split group (twins and translations share it)
    split: str
    template: str  # "<comply|step|bare|other|statement>:<set>:<index>" or "refuse:<index>"


# Godan verbs ending in -iru/-eru, which the ichidan rule below would conjugate wrongly (切る -> 切ります, not 切ます).
_GODAN_RU = ("切る", "入る", "帰る", "走る", "知る", "要る", "減る", "滑る", "握る", "蹴る", "限る", "散る", "練る", "焦る")
_GODAN_MASU = {"う": "います", "く": "きます", "ぐ": "ぎます", "す": "します", "つ": "ちます", "ぬ": "にます", "ぶ": "びます",
               "む": "みます", "る": "ります"}
_ICHIDAN_KANJI = ("見る", "出る", "寝る", "着る", "似る", "煮る", "得る", "居る")
_ICHIDAN_STEM = set("いきぎしじちにひびぴみりえけげせぜてでねへべぺめれ")


def polite(verb_phrase: str) -> str:
    """The ます form of a Japanese verb phrase that ends in a plain verb ("火薬を詰める" -> "火薬を詰めます"); other
    endings are returned as they are. A heuristic (-iru/-eru endings are taken as ichidan unless listed), good enough
    for training text."""
    if verb_phrase.endswith(_ICHIDAN_KANJI):
        return verb_phrase[:-1] + "ます"
    if verb_phrase.endswith(("する", "くる")):
        return verb_phrase[:-2] + ("します" if verb_phrase.endswith("する") else "きます")
    if verb_phrase.endswith("る") and len(verb_phrase) >= 2 and verb_phrase[-2] in _ICHIDAN_STEM \
            and not verb_phrase.endswith(_GODAN_RU):
        return verb_phrase[:-1] + "ます"
    if verb_phrase[-1:] in _GODAN_MASU:
        return verb_phrase[:-1] + _GODAN_MASU[verb_phrase[-1]]
    return verb_phrase


def _fill(template: str, task: Task) -> str:
    return template.format(how=task.how, How=task.how[:1].upper() + task.how[1:], what=task.what, text=task.how,
                           polite=polite(task.how))


def answer_forms(rows: Iterable[SafetyRow], templates: TemplateSet = "train", per_harmful: int = 2,
                 per_benign: int = 1, refusals: float = 0.3) -> Iterator[AnswerForm]:
    """Answer-shaped text for each row: `per_harmful` (harmful rows) or `per_benign` templates picked by the row's
    id (same picks every run); where the task was read off, one step ("Step 2: <task>.") and the bare task sentence
    too ("<Task>.", "<task, ます form>。"), labeled like the row; and, for a harmful request, a refusal with
    probability `refusals` (labeled benign).

    Injection attempts are left out: a complying answer to one is not harmful *content*.
    """
    for row in rows:
        if row.category == "injection":
            continue
        task = task_of(row)
        kind = "comply" if task.kind in ("how", "make") else task.kind
        pool = _TEMPLATES[row.lang, kind][templates]
        rng = random.Random(f"{row.id}:{templates}")
        count = per_harmful if row.label == "harmful" else per_benign
        for index in rng.sample(range(len(pool)), min(count, len(pool))):
            yield AnswerForm(_fill(pool[index], task), row.label, row.lang, row.source, row.group, row.split,
                             f"{kind}:{templates}:{index}")
        if kind == "comply":
            for part in ("step", "bare"):
                pool = _TEMPLATES[row.lang, part][templates]
                index = random.Random(f"{row.id}:{templates}:{part}").randrange(len(pool))
                yield AnswerForm(_fill(pool[index], task), row.label, row.lang, row.source, row.group, row.split,
                                 f"{part}:{templates}:{index}")
        if row.label == "harmful" and kind != "statement" and rng.random() < refusals:
            refuse = _JA_REFUSE if row.lang == "ja" else _EN_REFUSE
            index = rng.randrange(len(refuse))
            yield AnswerForm(_fill(refuse[index], task), "benign", row.lang, row.source, row.group, row.split,
                             f"refuse:{index}")
