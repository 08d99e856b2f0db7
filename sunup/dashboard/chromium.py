"""How sunup's own checks of the dashboard start a headless Chromium: its browser tests, the
cost benchmark (bench/dashboard.py) and the README's screenshot (docs/screenshot.py) all drive
Debian's Chromium with Playwright, with these options.

On these machines the network is closed: without the background-networking options Chromium
keeps opening connections that are refused. As root it needs --no-sandbox.
"""

from __future__ import annotations

#: Debian's package `chromium`.
CHROMIUM = "/usr/bin/chromium"
ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
