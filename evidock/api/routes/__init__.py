"""The API's routers, one per area; evidock.api.factory mounts them under /api/v1."""
