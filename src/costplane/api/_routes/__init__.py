"""API v1 routers, one module per resource; each route parses, authorises, calls one core function, serialises."""
