from assistant.app.cli import app

app(prog_name="assistant")
