"""Local fake venues (HTTP + WebSocket on 127.0.0.1) that Nautilus' real adapter clients connect to
by base URL, serving the project's recorded prices and filling orders at them (tests only)."""
