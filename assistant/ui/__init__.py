"""The web UI (`assistant serve`): the Gradio app, HTML rendering (everything escaped), the corpus tab, the
theme, and where the server may listen."""
