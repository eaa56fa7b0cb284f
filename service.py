"""WSGI entry point: `waitress-serve service:app` or `gunicorn service:app`."""

from qa.web import create_app

app = create_app()
