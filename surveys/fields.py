"""Names of the fields an expert's answers travel in (form inputs, drafts, the API).

Each input is named after the item key; a part of a multi-value answer (a scenario,
a ranking option, a part of a numeric estimate) is ``<item key>.<part>``; an item's
rationale is ``rationale.<item key>``.
"""


def rationale_field(item_key: str) -> str:
    """The field holding an item's rationale."""
    return f"rationale.{item_key}"


def component_field(item_key: str, component: str) -> str:
    """The field holding one part (e.g. a scenario) of an item's answer."""
    return f"{item_key}.{component}" if component else item_key
