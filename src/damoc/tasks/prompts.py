"""Prompt construction, shared by training, evaluation, IFD scoring and layer calibration.

Every stage turns an :class:`~damoc.tasks.load.Example` into text with :func:`render_prompt`,
:func:`target_text` and :func:`choice_continuations`, all driven by one frozen :class:`PromptSpec`
(built from the task config with :meth:`PromptSpec.from_task`), so a proxy is fine-tuned on exactly
the prompts it is evaluated on. Three layers, applied in order:

1. the body: the default plain template (lm-evaluation-harness ARC style, ``Question: ...\\nAnswer:``)
   or the user's ``task.template`` (Jinja2 when it contains ``{{``, else a ``str.format`` string) with
   the variables ``question``, ``context``, ``choices`` (list) and ``letters`` (``["A", "B", ...]``);
2. optionally the model's own chat template (``task.use_chat_template``): the body becomes the single
   user message, rendered with the generation prompt;
3. the target delimiter: ``" "`` before an answer, or ``""`` after a chat template (as lm-eval does
   with ``--apply_chat_template``).
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from damoc.errors import ConfigError, DataError

if TYPE_CHECKING:
    from damoc.config import TaskConfig
    from damoc.tasks.example import Example

LETTERS = "ABCDEFGHIJ"
TEMPLATE_VARIABLES = ("question", "context", "choices", "letters")
ChatTemplateUse = Literal["auto", "never", "always"]


@dataclass(frozen=True)
class PromptSpec:
    """How examples become prompts: the template and whether to wrap it in the model's chat template.

    Attributes:
        template: ``None`` for the default plain template, else a Jinja2 (contains ``{{``) or
            ``str.format`` template over ``question``, ``context``, ``choices``, ``letters``.
        use_chat_template: ``never`` (default, as lm-eval), ``auto`` (when the tokenizer has one) or
            ``always`` (a tokenizer without one is an error).
    """

    template: str | None = None
    use_chat_template: ChatTemplateUse = "never"

    @classmethod
    def from_task(cls, task: TaskConfig) -> PromptSpec:
        """The prompt settings of a task config (``task.template``, ``task.use_chat_template``)."""
        return cls(template=task.template, use_chat_template=task.use_chat_template)


DEFAULT_PROMPT = PromptSpec()


# ---------------------------------------------------------------- templates


def check_template(template: str | None) -> str | None:
    """Compile ``template`` and check its variables; returns it unchanged.

    Raises:
        ValueError: a syntax error or an unknown variable (the config layer names ``task.template``).
    """
    if template is None:
        return None
    if not template.strip():
        raise ValueError("template is empty")
    if is_jinja(template):
        _compile_jinja(template)
    else:
        _check_format_string(template)
    return template


def is_jinja(template: str) -> bool:
    """Jinja2 when the template contains ``{{``; otherwise a Python format string."""
    return "{{" in template


@functools.lru_cache(maxsize=16)
def _compile_jinja(template: str) -> Any:
    from jinja2 import StrictUndefined, TemplateSyntaxError, meta
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # sandboxed, as transformers renders chat templates; strict so a typo fails instead of rendering ""
    env = ImmutableSandboxedEnvironment(keep_trailing_newline=True, undefined=StrictUndefined)
    try:
        unknown = sorted(meta.find_undeclared_variables(env.parse(template)) - set(TEMPLATE_VARIABLES))
        compiled = env.from_string(template)
    except TemplateSyntaxError as exc:
        raise ValueError(f"Jinja2 syntax error at line {exc.lineno}: {exc.message}") from None
    if unknown:
        raise ValueError(f"unknown variable(s) {unknown}; available: {', '.join(TEMPLATE_VARIABLES)}")
    return compiled


def _check_format_string(template: str) -> None:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ValueError(
            f"not a valid format string ({exc}); use {{question}}, or Jinja2 with {{{{ question }}}}"
        ) from None
    for name in names:
        root = name.split(".", 1)[0].split("[", 1)[0]
        if root not in TEMPLATE_VARIABLES:
            raise ValueError(f"unknown variable {{{name}}}; available: {', '.join(TEMPLATE_VARIABLES)}")
    try:
        template.format(**_variables("q", "c", ("a", "b")))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError) as exc:
        raise ValueError(f"template does not format: {type(exc).__name__}: {exc}") from None


def _variables(question: str, context: str | None, choices: tuple[str, ...] | None) -> dict[str, Any]:
    listed = list(choices or ())
    return {"question": question, "context": context or "", "choices": listed, "letters": list(LETTERS[: len(listed)])}


def render_body(ex: Example, template: str | None = None) -> str:
    """The prompt text before any chat template: the default plain template, or ``template``."""
    if template is None:
        head = f"Context: {ex.context}\n" if ex.context else ""
        return f"{head}Question: {ex.question}\nAnswer:"
    values = _variables(ex.question, ex.context, ex.choices)
    if is_jinja(template):
        return str(_compile_jinja(template).render(**values))
    return template.format(**values)


# ---------------------------------------------------------------- chat templates


def uses_chat_template(spec: PromptSpec, tokenizer: Any) -> bool:
    """Whether prompts for this tokenizer go through its chat template.

    Raises:
        ConfigError: ``use_chat_template`` is ``always`` and the tokenizer has none.
    """
    if spec.use_chat_template == "never" or tokenizer is None:
        return False  # without a tokenizer (character counts, data checks) the plain body is the prompt
    has = bool(getattr(tokenizer, "chat_template", None))
    if spec.use_chat_template == "always" and not has:
        name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
        raise ConfigError(
            f"task.use_chat_template is 'always' but the tokenizer of {name} has no chat template; "
            "use 'auto' (chat template when there is one) or 'never'"
        )
    return has


def apply_chat(body: str, tokenizer: Any) -> str:
    """``body`` as the single user message of the tokenizer's chat template, ready for the answer.

    A leading BOS that the tokenizer adds by itself is dropped from the text, so that encoding the
    prompt the usual way (special prefix + text) gives one BOS, not two.
    """
    from damoc.tasks.tokens import special_prefix

    messages = [{"role": "user", "content": body}]
    text = str(tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
    prefix = special_prefix(tokenizer)
    lead = tokenizer.decode(prefix) if prefix else ""
    return text[len(lead) :] if lead and text.startswith(lead) else text


# ---------------------------------------------------------------- the public trio


def render_prompt(ex: Example, spec: PromptSpec | None = None, tokenizer: Any = None) -> str:
    """The text the model sees before its answer.

    Args:
        ex: a normalised example.
        spec: template and chat-template settings; ``None`` is the default plain template.
        tokenizer: needed only to apply the model's chat template.

    Raises:
        ConfigError: ``use_chat_template: always`` and the tokenizer has no chat template.
    """
    spec = spec or DEFAULT_PROMPT
    body = render_body(ex, spec.template)
    return apply_chat(body, tokenizer) if uses_chat_template(spec, tokenizer) else body


def target_delimiter(spec: PromptSpec | None = None, tokenizer: Any = None) -> str:
    """What separates prompt and answer: a space, or nothing after a chat template (as lm-eval)."""
    return "" if uses_chat_template(spec or DEFAULT_PROMPT, tokenizer) else " "


def choice_continuations(ex: Example, spec: PromptSpec | None = None, tokenizer: Any = None) -> list[str]:
    """The continuation scored for each choice: delimiter + choice text."""
    if ex.choices is None:
        raise DataError(f"example {ex.id}: has no choices")
    delim = target_delimiter(spec, tokenizer)
    return [f"{delim}{c}" for c in ex.choices]


def target_text(ex: Example, spec: PromptSpec | None = None, tokenizer: Any = None) -> str:
    """What fine-tuning teaches the model to write after the prompt: delimiter + answer."""
    delim = target_delimiter(spec, tokenizer)
    if ex.choices is not None and isinstance(ex.answer, int):
        return f"{delim}{ex.choices[ex.answer]}"
    return f"{delim}{ex.answer}"


def build_prompt(ex: Example) -> str:
    """The default plain prompt (lm-evaluation-harness ARC style); same as ``render_prompt(ex)``."""
    return render_body(ex)
