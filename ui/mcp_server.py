"""Gradio's MCP server (gradio 6.31) with three things mended, so that an agent can use every tool and its answer.

- A queued tool with several outputs, called without a progress token (the usual call), failed ("pop index out
  of range") or came back as one text holding the Python repr of all its outputs: Gradio wrapped the client's
  tuple of outputs in a list of one. Each output is now one answer.
- Files came back as the repr of Gradio's file dicts, the server's own path beside the URL. Pictures now come as
  MCP image content with their URL, other files as their URL, a gallery as its pictures and captions, and
  plain values (dicts, lists, None) as JSON text.
- A tool taking a file told agents to upload it with an "upload_file_to_gradio" tool this server does not have;
  it now says what works: a data: URL, or an http(s) URL of a public host (Gradio refuses local addresses).
``use_mended_mcp_server()`` puts it in place of Gradio's before launch (routes.py builds it as
gradio.mcp.GradioMCPServer(blocks)); tests/test_mcp_client.py calls every tool through the official client.
"""
import json
from typing import Any

import gradio.mcp
from anyio.to_thread import run_sync
from gradio import processing_utils
from gradio_client import utils as client_utils


class MendedMCPServer(gradio.mcp.GradioMCPServer):
    @property
    def _file_data_tool_description(self) -> str:
        return (" Images go in as a data: URL (\"data:image/png;base64,...\") or as an http(s) URL of a public host;"
                " a local or private address (http://127.0.0.1/...) is refused.")

    async def _execute_tool_without_progress(self, job: Any) -> list[Any]:
        result = await run_sync(job.result)
        return list(result) if isinstance(result, tuple) else [result]  # a tuple: one item per output

    def postprocess_output_data(self, data: Any, root_url: str) -> list:
        answers = []
        for output in processing_utils.add_root_url(data, root_url, None):
            answers += self._answer(output)
        return answers

    def _answer(self, output: Any) -> list:
        """One output as MCP content: pictures as images (with their URL), files as URLs, values as JSON."""
        if client_utils.is_file_obj_with_meta(output):
            if self.get_image(output["path"]) is not None or self.get_svg(output) is not None:
                return super().postprocess_output_data([output], "")  # image content and "Image URL: …"
            return [self.types.TextContent(type="text", text=f"File URL: {output['url']}")]
        if isinstance(output, list) and output and all(self._is_file_or_picture(item) for item in output):
            return [answer for item in output for answer in self._answer(item)]  # gr.Files, gr.Gallery
        if isinstance(output, dict) and client_utils.is_file_obj_with_meta(output.get("image")):
            caption = [self.types.TextContent(type="text", text=output["caption"])] if output.get("caption") else []
            return caption + self._answer(output["image"])  # a gallery's picture after its caption
        text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False, default=str)
        return [self.types.TextContent(type="text", text=text)]

    @staticmethod
    def _is_file_or_picture(item: Any) -> bool:
        return client_utils.is_file_obj_with_meta(item) or (
            isinstance(item, dict) and client_utils.is_file_obj_with_meta(item.get("image")))


def use_mended_mcp_server() -> None:
    gradio.mcp.GradioMCPServer = MendedMCPServer
