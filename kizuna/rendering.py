"""Rendering a message body for one subscriber: sandboxed Jinja2 under StrictUndefined."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from jinja2 import StrictUndefined, Template
from jinja2.sandbox import SandboxedEnvironment

from kizuna.core.catalog import Message
from kizuna.core.local_info import LOCAL_INFO_KEYS, local_info
from kizuna.core.ruby import ruby_to_html, ruby_to_text
from kizuna.core.status import ChannelName


@dataclass(frozen=True, slots=True)
class RenderContext:
    """The documented template variables (see messages/README.md)."""

    stage_label: str
    channel: ChannelName
    nickname: str = ""
    municipality_name: str = ""
    local: dict[str, str] = field(default_factory=local_info)

    def variables(self) -> dict[str, object]:
        return {
            "nickname": self.nickname,
            "stage_label": self.stage_label,
            "municipality_name": self.municipality_name,
            "local": self.local,
            "channel": str(self.channel),
        }


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message ready for a channel: subject line, plain text, and HTML paragraphs."""

    title: str
    text: str
    html: str


def sample_contexts(stage_label: str = "妊娠12週3日") -> list[RenderContext]:
    """Contexts that exercise every branch a template may take, for validation."""
    full_local = local_info({key: f"（{key}の案内）" for key in LOCAL_INFO_KEYS})
    contexts = []
    for channel in ChannelName:
        contexts.append(RenderContext(stage_label=stage_label, channel=channel))
        contexts.append(
            RenderContext(
                stage_label=stage_label,
                channel=channel,
                nickname="さくら",
                municipality_name="見本市",
                local=full_local,
            )
        )
    return contexts


class Renderer:
    """Compiles each message body once and renders it per subscriber."""

    def __init__(self) -> None:
        # Bodies are written by editors, not by us: the sandbox keeps a template from
        # reaching Python internals, and StrictUndefined turns a typo into an error. Newlines
        # after tags are kept (no trim_blocks): an inline `{% endif %}` before a blank line
        # must not swallow the paragraph break; `tidy` removes the blank runs this leaves.
        self._env = SandboxedEnvironment(
            undefined=StrictUndefined, autoescape=False, lstrip_blocks=True
        )
        self._templates: dict[tuple[str, str], Template] = {}

    def compile(self, body: str) -> Template:
        """Compile a body; raises jinja2.TemplateSyntaxError with the line on bad syntax."""
        return self._env.from_string(body)

    def render_text(self, message: Message, context: RenderContext) -> str:
        key = (message.id, message.variant)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = self.compile(message.body)
        return tidy(template.render(context.variables()))

    def render(self, message: Message, context: RenderContext) -> Rendered:
        marked = self.render_text(message, context)
        # Escaping and furigana never cross a line: the text is converted once, then split.
        paragraphs = [p for p in ruby_to_html(marked).split("\n\n") if p.strip()]
        html = "\n".join("<p>" + p.replace("\n", "<br>\n") + "</p>" for p in paragraphs)
        return Rendered(title=ruby_to_text(message.title), text=ruby_to_text(marked), html=html)


SENDER_LABEL_MAX = 30  # a municipality's mark (〇〇市より); validation allows for this many


def from_municipality(rendered: Rendered, label: str) -> Rendered:
    """A municipality's own message, marked as coming from it in the title and the text."""
    mark = f"【{label}】"
    return Rendered(
        title=f"{mark}{rendered.title}",
        text=f"{mark}\n{rendered.text}",
        html=f"<p>{escape(mark)}</p>\n{rendered.html}",
    )


def tidy(text: str) -> str:
    """Trim trailing spaces and runs of blank lines that template branches leave behind."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out)
