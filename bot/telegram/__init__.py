"""The Telegram front end: receiving updates (`webhook`, `polling`), the `gateway`, rendering and
sending (`outbox`), the periodic reminder check (`reminders`), and process start-up (`startup`).
"""

PHRASE_KEYS = (
    "welcome",
    "help",
    "not_text",
    "type_answer",
    "cancelled",
    "forget_confirm",
    "forget_yes",
    "forget_no",
    "forgotten",
    "forget_kept",
    "sorry_error",
    "sorry_store",
    "share",
    "copy_message",
    "inline_empty",
    "result_above",
    "result_above_many",
    "wording_label",
    "message_label_email",
    "message_label_linkedin",
    "message_label_messenger",
    "message_label_script",
    "command_start",
    "command_help",
    "command_back",
    "command_restart",
    "command_cancel",
    "command_forget",
    "command_reminders",
)
"""The common phrases (`phrases/<lang>/_common.yaml`) the Telegram front end uses beyond the
core's; the loader refuses content without them. Declared here, not in `render` or `gateway`,
so checking content does not import python-telegram-bot."""
