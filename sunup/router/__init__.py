"""The router: every HTTP request of a project enters here, as on the platform (spec §10, §11).

One nginx per project, started and supervised by sunup beside the services, serves both layers
the platform has: the project's router (routes: URL → app, redirects, cache, TLS) and each app's
own web server (`web.locations`: static files, passthru to the app). Rendering the nginx
configuration from the plan is pure code (`render`); running nginx is `runner`; the ports and the
domain are kept per project (`address`); the certificates come from a local CA (`certificates`).
"""
