"""What the R4B models say about an element: whether it exists and whether it repeats (FHIR R4
elementdefinition.html: ``max = "*"``).

FHIR JSON writes a repeating element as an array even when it holds one item (R4 json.html §2.6.2), so a
patch that adds an element that is not there yet must know whether to add ``[value]`` or ``value``; and a
choice element (``value[x]``) is named with its type (``valueQuantity``), so a patch must know which
names are elements.
"""

from __future__ import annotations

import typing
from functools import cache

from fhir.resources.R4B import get_fhir_model_class


@cache
def _model(type_name: str):
    try:
        return get_fhir_model_class(type_name)
    except (KeyError, ValueError, LookupError):
        return None


def _element(resource_type: str, names: tuple[str, ...]) -> tuple[bool, bool]:
    """(known, repeats) of the element reached by ``names`` from ``resource_type``."""
    model = _model(resource_type)
    is_list = False
    for name in names:
        field = model.model_fields.get(name) if model is not None else None
        if field is None:
            return False, False
        annotation = field.annotation
        for arg in typing.get_args(annotation) or (annotation,):  # Optional[X] → X
            if arg is not type(None):
                annotation = arg
                break
        is_list = typing.get_origin(annotation) is list
        inner = typing.get_args(annotation)[0] if is_list else annotation
        inner_name = getattr(inner, "__name__", "")
        model = _model(inner_name.removesuffix("Type")) if inner_name.endswith("Type") else None
    return True, is_list


def repeats(resource_type: str, names: tuple[str, ...]) -> bool:
    """Whether the element reached by ``names`` from ``resource_type`` (``("contact", "telecom")``) is a
    list; False when the models do not know the element (validation then says what is wrong)."""
    return _element(resource_type, names)[1]


def is_element(resource_type: str, names: tuple[str, ...]) -> bool:
    """Whether the models know the element reached by ``names`` (``("valueQuantity",)`` yes, ``("value",)``
    no: that is a choice, named with its type)."""
    return _element(resource_type, names)[0]
