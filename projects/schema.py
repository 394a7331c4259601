"""How the OpenAPI schema describes personal API tokens."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class APITokenScheme(OpenApiAuthenticationExtension):
    target_class = "projects.authentication.APITokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`at_…`), created on /api/v1/tokens/ or in the "
                           "admin. Scopes: read, write, admin.",
        }
