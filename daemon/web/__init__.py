"""The staff desk (`ribao web`): bureau staff see and correct the week in a browser.

A small Flask application served by waitress over the same library and database as the daemon
(SQLite in WAL mode, so the daemon keeps running beside it): app.py builds it, auth.py keeps
accounts, sessions and the login rate limit, views.py has the pages, lib.py is the one place that
imports the rest of ribao, cli.py is `ribao web` and `ribao web passwd`.
"""
