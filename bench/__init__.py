"""`make bench`: doorajar against python-telegram-bot's own floor, on the same traffic.

Three bots handle the same synthetic updates (2,000 users walking the decline_offer flow):
doorajar with its SQLite store (every update committed), a PTB echo bot, and a PTB
`ConversationHandler` bot making the same Bot API calls per step with its state in memory.
Each bot runs in its own subprocess, so CPU time and peak RSS are its own. Tier (a) calls
`Application.process_update` with a request layer that never touches the network; tier (b)
talks HTTP to a fake Bot API server in another process. `python -m bench --help` lists the
options; `bench/run.py` holds the targets.
"""
