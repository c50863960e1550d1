"""The HTTP API: the same gate, log and policies as the CLI, over HTTP (docs/api.md).

``create_app(evi)`` builds the ASGI application; ``evidock run`` serves it with
uvicorn in a thread beside the service loop (``evidock.api.server``).
"""
