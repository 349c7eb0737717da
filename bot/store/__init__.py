"""Where conversations live between updates: the protocol, and the memory, SQLite and Redis stores.

`bot.store.protocol` says what every store promises; `bot.store.factory.open_store` picks one
from a setting.
"""
