"""Local fake venues (HTTP + WebSocket on 127.0.0.1) that Nautilus' own adapter clients trade against
in tests: a venue-neutral server and market (recorded prices, a small matching engine), and one
module per exchange for its routes and messages."""
