"""devidp's OpenID Connect endpoints, one module per family, mixed into `DevIdP`; the table is `server.ENDPOINTS`."""
