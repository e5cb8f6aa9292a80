"""Gradio UI: one module per tab, each with a build_<name>_tab() called inside an open gr.Tab."""
