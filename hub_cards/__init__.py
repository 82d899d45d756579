"""Jinja templates for the Hub model cards of DLFA runs (package data, rendered by `modeling_dlfa.model_card`)."""

from importlib import resources

DEFAULT_TEMPLATE = "template.md"


def load_template(name: str = DEFAULT_TEMPLATE) -> str:
    """The text of the template `name` shipped in this package."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


__all__ = ["DEFAULT_TEMPLATE", "load_template"]
