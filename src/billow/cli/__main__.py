"""``python -m billow.cli``: what process managers and the tests run."""

from billow.cli import app

if __name__ == "__main__":
    app()
