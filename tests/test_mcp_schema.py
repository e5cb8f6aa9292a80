"""The MCP tools as an agent's client first sees them (the list Gradio's MCP server answers, built from the app
in this process, no server started): every input schema valid JSON Schema (Draft 2020-12), every default and
choice valid for its own schema, and every argument described whole. A client that checks schemas (the
official `mcp` SDK does) refused every call of `colourize` when hints were declared ``{"type": {}}``."""
import inspect
import re

import pytest
from jsonschema import Draft202012Validator

from tests.test_api import PUBLIC

pytest.importorskip("mcp", reason="needs the mcp package: pip install 'gradio[mcp]' (requirements.txt has it)")


@pytest.fixture(scope="module")
def tools() -> dict:
    """name -> (description, input schema, endpoint function), as list_tools answers them."""
    import app
    from ui.mcp_server import MendedMCPServer

    server = MendedMCPServer(app.build_app())  # the server app.py launches
    found = {}
    for name, endpoint in server.tool_to_endpoint.items():
        block_fn = server.get_block_fn_from_endpoint_name(endpoint)
        description, parameters = server.get_fn_description(block_fn, name)
        found[name] = (description, server.get_input_schema(name, parameters)[0], block_fn.fn)
    return found


def whole_arguments(fn) -> dict[str, str]:
    """Each argument's description in the docstring's Args section, continuation lines included."""
    lines = (inspect.getdoc(fn) or "").splitlines()
    names, described, current = set(inspect.signature(fn).parameters), {}, None
    inside = False
    for line in lines:
        if line.strip() in ("Args:", "Returns:"):
            inside, current = line.strip() == "Args:", None
            continue
        match = re.match(r"\s+(\w+): (.*)", line) if inside else None
        if match and match.group(1) in names:
            current = match.group(1)
            described[current] = match.group(2).strip()
        elif inside and current and line.strip():
            described[current] += " " + line.strip()
    return described


def test_every_public_endpoint_is_a_tool(tools):
    assert set(tools) == PUBLIC


def test_every_input_schema_is_valid_json_schema_and_its_defaults_and_choices_fit(tools):
    for name, (_, schema, _) in tools.items():
        Draft202012Validator.check_schema(schema)  # raises SchemaError, naming the bad part
        for argument, declared in schema["properties"].items():
            plain = {key: value for key, value in declared.items() if key != "default"}
            if "default" in declared:
                assert Draft202012Validator(plain).is_valid(declared["default"]), (name, argument, declared)
            for choice in declared.get("enum", []) + declared.get("items", {}).get("enum", []):
                valid = Draft202012Validator(plain if "enum" in declared else plain["items"]).is_valid(choice)
                assert valid, f"{name}.{argument}: its own choice {choice!r} does not fit {declared}"


def test_what_agents_send_fits_the_schemas(tools):
    """A hinted colourization (today's hints and the richer kinds planned, which stay valid) and a tiny training."""
    colourize, train = tools["colourize"][1], tools["train"][1]
    image = "data:image/png;base64,iVBORw0KGgo="
    hints = [{"x": 10, "y": 20, "colour": "#ff0000"}, {"x": 5, "y": 5, "colour": "#00ff00", "reach": 12},
             {"stroke": [[1, 2], [3, 4]], "colour": "#0000ff"}]
    Draft202012Validator(colourize).validate({"image": image, "hints": hints})
    Draft202012Validator(colourize).validate({"image": image})
    assert not Draft202012Validator(colourize).is_valid({"image": image, "hints": "red at the top"})
    Draft202012Validator(train).validate({"model": "CNN", "batch_sizes": [50], "num_filters": 8, "epochs": 1})


def test_every_argument_and_result_is_described_whole(tools):
    from gradio.utils import get_function_description

    for name, (description, schema, fn) in tools.items():
        # Gradio joins a Returns section's lines with ", " ("with the, hints marked"): one line at most
        assert description and len(get_function_description(fn)[2]) <= 1, name
        whole = whole_arguments(fn)
        for argument, declared in schema["properties"].items():
            assert declared.get("description"), f"{name}.{argument} has no description"
            assert declared["description"] == whole[argument], f"{name}.{argument} is cut: {declared['description']!r}"
    assert "at most 200" in tools["colourize"][1]["properties"]["hints"]["description"]
    for name in ("colourize", "segment", "inspect_pixel", "layer_outputs"):  # what to send for a picture
        assert "data: URL" in tools[name][0] and "upload_file_to_gradio" not in tools[name][0], name
