"""Draw a flow with transitions' diagram support: mermaid text, or SVG/PNG through graphviz."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from transitions.extensions import GraphMachine

from bot.content.catalog import SKIP, Flow


def _graph_machine(
    flow: Flow, engine: Literal["graphviz", "mermaid"]
) -> tuple[GraphMachine, object]:
    machine = GraphMachine(
        model=None,
        states=list(flow.states),
        initial=flow.start,
        auto_transitions=False,
        graph_engine=engine,
        title=flow.id,
        show_conditions=False,
    )
    for state in flow.states.values():
        labels = list(state.options) if state.ask == "choice" else ["text"]
        if state.optional:
            labels.append(SKIP.strip("_"))
        for branch in state.next:
            # One edge per branch: the options that can take it, read from the conditions.
            read = branch.condition.slots().get(state.slot)
            shown = [label for label in labels if not read or label in read]
            machine.add_transition(" | ".join(shown) or "next", state.name, branch.target)

    class Model:
        pass

    model = Model()
    machine.add_model(model)
    return machine, model


def mermaid(flow: Flow) -> str:
    """The flow as a mermaid state diagram."""
    _, model = _graph_machine(flow, "mermaid")
    text: str = model.get_graph().draw(None)  # type: ignore[attr-defined]
    return text


def draw(flow: Flow, output: Path) -> None:
    """Write the diagram; the suffix picks the format (.svg, .png with graphviz; else mermaid)."""
    suffix = output.suffix.lower().lstrip(".")
    if suffix in ("svg", "png", "pdf"):
        # transitions quietly falls back to another engine when graphviz is missing.
        import graphviz  # noqa: F401

        _, model = _graph_machine(flow, "graphviz")
        model.get_graph().draw(str(output), format=suffix, prog="dot")  # type: ignore[attr-defined]
        return
    text = mermaid(flow)
    if suffix == "md":
        text = f"# {flow.id}\n\n```mermaid\n{text}\n```\n"
    output.write_text(text, encoding="utf-8")
