"""``/docs`` (Swagger UI) and ``/redoc`` served offline: the viewers' files come from the
installed ``fastapi-offline`` package, the start-up script from this package, never a CDN."""
