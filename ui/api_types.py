"""Components declared to the API and MCP with a valid JSON Schema, drawn on the page as before.

Gradio 6.31 declares gr.JSON as ``{"type": {}}`` (not JSON Schema: an MCP server or client that checks schemas
refuses every call of the tool) and the choices of a gr.Dropdown or gr.CheckboxGroup as strings even when they
are numbers (so such a client refuses every number offered). The fix is the component's own api_info, set on
the instance: a subclass would be simpler, but Gradio writes a .pyi file beside any module defining one.
"""
import types
from typing import Any

import gradio as gr

# One hint: a point {"x", "y", "colour"} in the photo's own pixels. Other keys are left to the hint parser
# (colorizer/hints.py), so that new kinds of hint stay valid for this schema.
HINT = {"type": "object", "additionalProperties": True,
        "properties": {"x": {"type": "number", "description": "column, 0 at the left"},
                       "y": {"type": "number", "description": "row, 0 at the top"},
                       "colour": {"type": "string", "description": "#rrggbb"}}}
HINTS = {"type": "array", "items": HINT}


def json_type(values: list) -> str:
    """The JSON Schema type of a list of choices: integer, number or string (a bool is no number here)."""
    numbers = [value for value in values if isinstance(value, (int, float)) and not isinstance(value, bool)]
    if not values or len(numbers) < len(values):
        return "string"
    return "integer" if all(isinstance(value, int) for value in numbers) else "number"


def _hints_info(component: gr.JSON) -> dict[str, Any]:
    return {**HINTS, "items": dict(HINT)}


def _typed_choices_info(component: gr.Dropdown | gr.CheckboxGroup) -> dict[str, Any]:
    info = type(component).api_info(component)
    choices = info["items"] if "items" in info else info  # a list of choices, or one choice
    choices["type"] = json_type(choices["enum"])
    return info


def hints_input(component: gr.JSON) -> gr.JSON:
    """``component``, declared as a list of colour hints (HINTS)."""
    component.api_info = types.MethodType(_hints_info, component)  # a bound method: deepcopy rebinds it
    return component


def typed_choices(component: gr.Dropdown | gr.CheckboxGroup) -> gr.Dropdown | gr.CheckboxGroup:
    """``component``, its choices declared with their own type (numbers as numbers)."""
    component.api_info = types.MethodType(_typed_choices_info, component)
    return component
