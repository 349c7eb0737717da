"""The engine, called directly: menu, questions, rules, stale buttons, back, results."""

from __future__ import annotations

from dataclasses import replace

from bot.check.walk import sample_text
from bot.content.catalog import KEEP, SKIP
from bot.conversation import Conversation
from bot.engine import Engine, Outcome, clean_text, fire
from bot.events import (
    Another,
    Back,
    Choose,
    OpenGroup,
    Refine,
    Restart,
    Start,
    Text,
    decode,
    encode,
)
from bot.replies import MenuReply, Notice, QuestionReply, ResultReply


def new() -> Conversation:
    return Conversation(chat_id="42")


def question(outcome: Outcome) -> QuestionReply:
    found = [r for r in outcome.replies if isinstance(r, QuestionReply)]
    assert found, outcome.replies
    return found[-1]


def result(outcome: Outcome) -> ResultReply:
    found = [r for r in outcome.replies if isinstance(r, ResultReply)]
    assert found, outcome.replies
    return found[-1]


def walk_to(engine: Engine, state: str, **answers: str) -> Conversation:
    """Answer the decline flow's main path until `state` is asked; options from `answers`,
    else the first."""
    conv = engine.handle(new(), Start("decline_offer")).conversation
    flow = engine.catalog.flows["decline_offer"]
    while conv.state != state:
        current = flow.states[conv.state]
        assert not current.end, f"reached the end before {state}"
        if current.ask == "choice":
            event: Choose | Text = Choose(
                current.name, answers.get(current.slot, current.options[0])
            )
        else:
            event = Text(answers.get(current.slot, sample_text(current)))
        conv = engine.handle(conv, event).conversation
    return conv


def finish(engine: Engine, **answers: str) -> tuple[Conversation, ResultReply]:
    """The first draft of the decline flow."""
    conv = walk_to(engine, "your_name", **answers)
    outcome = engine.handle(conv, Text(answers.get("your_name", "Sam Carter")))
    return outcome.conversation, result(outcome)


def labels(reply: ResultReply | QuestionReply) -> list[str]:
    rows = reply.actions if isinstance(reply, ResultReply) else reply.buttons
    return [button.label for row in rows for button in row]


def test_start_shows_the_main_menu_with_groups(engine: Engine) -> None:
    outcome = engine.handle(new(), Start())
    menu = outcome.replies[0]
    assert isinstance(menu, MenuReply)
    data = [b.data for row in menu.buttons for b in row]
    assert data and all(decode(d) is not None for d in data)


def test_group_lists_its_situations(engine: Engine) -> None:
    outcome = engine.handle(new(), OpenGroup("offers"))
    menu = outcome.replies[0]
    assert isinstance(menu, MenuReply)
    assert encode(Start("decline_offer")) in [b.data for row in menu.buttons for b in row]


def test_starting_a_flow_asks_its_first_question(engine: Engine) -> None:
    outcome = engine.handle(new(), Start("decline_offer"))
    q = question(outcome)
    assert (q.flow, q.state) == ("decline_offer", "channel")
    assert encode(Choose("channel", "email")) in [b.data for row in q.buttons for b in row]


def test_unknown_flow_gets_the_menu(engine: Engine) -> None:
    outcome = engine.handle(new(), Start("no_such_flow"))
    assert isinstance(outcome.replies[0], Notice)
    assert isinstance(outcome.replies[-1], MenuReply)


def test_choosing_an_option_moves_to_the_next_question(engine: Engine) -> None:
    conv = engine.handle(new(), Start("decline_offer")).conversation
    outcome = engine.handle(conv, Choose("channel", "email"))
    assert outcome.conversation.state == "reason"
    assert outcome.conversation.answers == {"channel": "email"}
    assert outcome.conversation.history == ("channel",)


def test_branches_follow_the_answer(engine: Engine) -> None:
    conv = walk_to(engine, "reason")
    assert engine.handle(conv, Choose("reason", "pay")).conversation.state == "negotiated"
    assert (
        engine.handle(conv, Choose("reason", "another_offer")).conversation.state == "offer_written"
    )
    assert engine.handle(conv, Choose("reason", "culture")).conversation.state == "company"
    assert (
        engine.handle(conv, Choose("reason", "company_not_role")).conversation.state
        == "wanted_role"
    )


def test_stale_button_shows_current_question_and_changes_nothing(engine: Engine) -> None:
    conv = walk_to(engine, "reason")
    outcome = engine.handle(conv, Choose("channel", "phone"))
    assert outcome.conversation == conv
    assert not outcome.changed
    assert isinstance(outcome.replies[0], Notice)
    assert question(outcome).state == "reason"


def test_forged_option_changes_nothing(engine: Engine) -> None:
    conv = walk_to(engine, "reason")
    for event in (Choose("reason", "bribe"), Choose("reason", KEEP), Choose("reason", SKIP)):
        outcome = engine.handle(conv, event)
        assert outcome.conversation == conv and not outcome.changed
        assert question(outcome).state == "reason"


def test_forged_button_data_decodes_to_nothing_or_is_rejected(engine: Engine) -> None:
    conv = walk_to(engine, "reason")
    forged = ("", "x" * 65, "c:", "c:reason", "zz:1", "c:reason:pay:extra", "f:", "v:", "v:tone")
    for data in forged:
        event = decode(data)
        if event is not None:
            outcome = engine.handle(conv, event)
            assert outcome.conversation.answers.get("reason") is None or outcome.changed


def test_typed_label_answers_a_choice_question(engine: Engine) -> None:
    conv = walk_to(engine, "reason")
    outcome = engine.handle(conv, Text("I'd rather not say"))
    assert outcome.conversation.answers["reason"] == "private"


def test_text_for_a_choice_question_re_asks_it(engine: Engine) -> None:
    conv = walk_to(engine, "reason")
    outcome = engine.handle(conv, Text("something else"))
    assert not outcome.changed
    assert question(outcome).state == "reason"
    notice = outcome.replies[0]
    assert isinstance(notice, Notice)
    assert notice.text == engine.catalog.common["en"]["tap_a_button"]


def test_text_rules_give_the_reason_and_ask_again(engine: Engine) -> None:
    conv = walk_to(engine, "company")
    too_long = engine.handle(conv, Text("A" * 61))
    assert not too_long.changed
    q = question(too_long)
    assert q.state == "company" and q.problem and "60" in q.problem
    empty = engine.handle(conv, Text("   \u200f  "))
    assert question(empty).problem and not empty.changed


def test_pattern_rule_uses_the_question_own_message(engine: Engine) -> None:
    conv, _ = finish(engine, reason="pay")
    conv = engine.handle(conv, Refine("figure")).conversation
    outcome = engine.handle(conv, Text("a lot"))
    q = question(outcome)
    assert q.problem and "digits" in q.problem
    revised = engine.handle(conv, Text("85,000 a year"))
    assert revised.conversation.answers["figure"] == "85,000 a year"
    assert "85,000 a year" in result(revised).result.messages[0].body


def test_back_returns_to_previous_question_with_previous_answer(engine: Engine) -> None:
    conv = walk_to(engine, "company", reason="culture")
    outcome = engine.handle(conv, Back())
    q = question(outcome)
    assert q.state == "reason"
    assert q.previous == "The culture or manager didn't feel right"
    assert any("✓" in b.label for row in q.buttons for b in row)


def test_back_forgets_answers_of_abandoned_branches(engine: Engine) -> None:
    conv = walk_to(engine, "company", reason="pay")
    assert conv.answers["negotiated"]
    conv = engine.handle(conv, Back()).conversation  # at negotiated
    conv = engine.handle(conv, Back()).conversation  # at reason
    assert conv.state == "reason" and "negotiated" not in conv.answers
    conv = engine.handle(conv, Choose("reason", "family")).conversation
    assert conv.state == "company" and "negotiated" not in conv.answers


def test_back_from_first_question_returns_to_the_menu(engine: Engine) -> None:
    conv = engine.handle(new(), Start("decline_offer")).conversation
    outcome = engine.handle(conv, Back())
    assert isinstance(outcome.replies[0], MenuReply)
    assert outcome.conversation.flow == ""


def test_restart_begins_the_flow_again(engine: Engine) -> None:
    conv = walk_to(engine, "company")
    outcome = engine.handle(conv, Restart())
    assert outcome.conversation.state == "channel" and not outcome.conversation.answers


def test_result_has_message_and_advice(engine: Engine) -> None:
    _, res = finish(engine, channel="email", company="Acme Ltd")
    assert [m.kind for m in res.result.messages] == ["email"]
    email = res.result.messages[0]
    assert email.subject and "Acme Ltd" in email.body
    assert 3 <= len(res.result.advice) <= 6
    assert not res.draft_problems


def test_phone_gives_a_script_and_a_confirming_email(engine: Engine) -> None:
    _, res = finish(engine, channel="phone")
    assert [m.kind for m in res.result.messages] == ["script", "email"]


def test_format_strings_typed_as_names_stay_literal(engine: Engine) -> None:
    typed = "{0.__class__} {company} {{x}}"
    _, res = finish(engine, company=typed)
    assert typed in res.result.messages[0].body
    assert "<class" not in res.result.messages[0].text


def test_another_wording_gives_three_different_versions(engine: Engine) -> None:
    conv, first = finish(engine, channel="email")
    texts = [first.result.messages[0].text]
    for _ in range(2):
        outcome = engine.handle(conv, Another())
        conv = outcome.conversation
        texts.append(result(outcome).result.messages[0].text)
    assert len(set(texts)) == 3


# -- refinements ------------------------------------------------------------------------------


def test_draft_shows_the_refinements_whose_condition_holds(engine: Engine) -> None:
    _, pay = finish(engine, reason="pay")
    shown = labels(pay)
    assert shown[0] == "Another wording"
    assert "Mention the pay I'd need" in shown and "Change tone" in shown
    assert "Say what I'm aiming for" not in shown and "Name the company I'm joining" not in shown
    assert encode(Refine("figure")) in [b.data for row in pay.actions for b in row]
    _, private = finish(engine, reason="private")
    assert "Say more or less about why" not in labels(private)
    assert "Mention the pay I'd need" not in labels(private)


def test_change_tone_from_the_result_comes_back_to_the_result(engine: Engine) -> None:
    conv, before = finish(engine, channel="email")
    conv = engine.handle(conv, Refine("tone")).conversation
    assert conv.state == "tone"
    outcome = engine.handle(conv, Choose("tone", "formal"))
    after = result(outcome)
    assert outcome.conversation.answers["tone"] == "formal"
    assert after.result.messages[0].text != before.result.messages[0].text
    assert after.result.messages[0].body.startswith("Dear ")


def test_change_channel_to_phone_passes_through_what_was_answered(engine: Engine) -> None:
    conv, _ = finish(engine, channel="email")
    conv = engine.handle(conv, Refine("channel")).conversation
    outcome = engine.handle(conv, Choose("channel", "phone"))
    assert [m.kind for m in result(outcome).result.messages] == ["script", "email"]
    assert outcome.conversation.history[-2:] == ("done", "channel")
    assert outcome.conversation.history[0] == "channel"


def test_defaults_are_used_before_they_are_asked(engine: Engine) -> None:
    conv, res = finish(engine, channel="email", reason="family")
    assert "tone" not in conv.answers and "door" not in conv.answers
    body = res.result.messages[0].body
    assert body.startswith("Hi ") and "Warm regards" in body  # tone: warm
    assert "stay in touch" in body  # door: stay_in_touch
    q = question(engine.handle(conv, Refine("tone")))
    assert q.previous is None  # a default is not an answer: nothing is ticked


def test_back_from_a_refinements_first_question_returns_to_the_draft_unchanged(
    engine: Engine,
) -> None:
    conv, draft = finish(engine, channel="email")
    inside = engine.handle(conv, Refine("door")).conversation
    inside = engine.handle(inside, Choose("door", "other_roles")).conversation
    assert inside.state == "open_chat" and "door" not in inside.answers  # kept apart
    at_door = engine.handle(inside, Back())
    assert question(at_door).previous == "Consider me for other roles"
    outcome = engine.handle(at_door.conversation, Back())
    assert outcome.conversation.state == "done"
    assert outcome.conversation.answers == conv.answers
    assert outcome.conversation.history == conv.history
    assert result(outcome).result == draft.result


def test_back_from_the_revised_draft_shows_the_refinement_answer(engine: Engine) -> None:
    conv, _ = finish(engine, channel="email")
    conv = engine.handle(conv, Refine("tone")).conversation
    revised = engine.handle(conv, Choose("tone", "brief")).conversation
    back = engine.handle(revised, Back())
    assert question(back).state == "tone" and question(back).previous == "Short and to the point"
    draft = engine.handle(back.conversation, Back())
    assert draft.conversation.state == "done"
    assert draft.conversation.answers["tone"] == "brief"  # committed when the draft was revised


def test_stale_refinement_answers_change_nothing(engine: Engine) -> None:
    conv, plain = finish(engine, channel="email", reason="family")
    conv = engine.handle(conv, Refine("door")).conversation
    conv = engine.handle(conv, Choose("door", "other_roles")).conversation
    with_call = engine.handle(conv, Choose("open_chat", "offer_chat"))
    assert "call" in result(with_call).result.messages[0].body
    conv = engine.handle(with_call.conversation, Refine("door")).conversation
    outcome = engine.handle(conv, Choose("door", "stay_in_touch"))
    assert outcome.conversation.answers["open_chat"] == "offer_chat"  # still there, unused
    assert result(outcome).result == plain.result


def test_stale_refinement_buttons_change_nothing(engine: Engine) -> None:
    conv, _ = finish(engine, reason="family")
    for event in (Refine("figure"), Refine("no_such_refinement"), Refine("")):
        outcome = engine.handle(conv, event)
        assert outcome.conversation == conv and not outcome.changed
        assert isinstance(outcome.replies[0], Notice)
    asking = walk_to(engine, "company")
    outcome = engine.handle(asking, Refine("tone"))
    assert outcome.conversation == asking and not outcome.changed


def test_a_refinement_can_be_typed_by_its_label_at_the_draft(engine: Engine) -> None:
    conv, _ = finish(engine)
    outcome = engine.handle(conv, Text("change TONE"))
    assert question(outcome).state == "tone"


def test_stale_answers_of_an_old_route_change_nothing(engine: Engine) -> None:
    conv, _ = finish(engine, reason="pay", negotiated="not_tried")
    conv = engine.handle(conv, Refine("figure")).conversation
    conv = engine.handle(conv, Text("95,000 a year")).conversation
    # Back to the reason, which now takes another route; the figure stays in the answers.
    while conv.state != "reason":
        conv = engine.handle(conv, Back()).conversation
    conv = engine.handle(conv, Choose("reason", "family")).conversation
    for answer in ("Acme", "Analyst", "Jordan", "Sam Carter"):
        conv = engine.handle(conv, Text(answer)).conversation
    (reply,) = engine.current(conv)
    assert isinstance(reply, ResultReply)
    assert conv.answers.get("figure") == "95,000 a year"
    assert all("95,000" not in m.text for m in reply.result.messages)
    assert "Mention the pay I'd need" not in labels(reply)


def test_own_name_is_remembered_for_the_next_situation(engine: Engine) -> None:
    conv, _ = finish(engine, your_name="Sam Carter")
    conv = engine.handle(conv, Start("decline_offer")).conversation
    assert not conv.answers and conv.remembered["your_name"] == "Sam Carter"
    conv = walk_to(engine, "your_name")
    conv = replace(conv, remembered={"your_name": "Sam Carter"})
    q = question(Outcome(conv, Engine.current(engine, conv)))
    assert any("Sam Carter" in b.label for row in q.buttons for b in row)
    outcome = engine.handle(conv, Choose("your_name", KEEP))
    assert outcome.conversation.answers["your_name"] == "Sam Carter"


def test_clean_text_removes_controls_and_bidi_overrides() -> None:
    assert clean_text("  Acme\u202e Ltd\x00\n\t ") == "Acme Ltd"
    assert clean_text("Zoë 👩‍💻 שלום") == "Zoë 👩‍💻 שלום"


def test_events_round_trip_through_button_data() -> None:
    for event in (
        Start(),
        Start("decline_offer"),
        OpenGroup("offers"),
        Choose("tone", "warm"),
        Back(),
        Restart(),
        Another(),
        Refine("tone"),
    ):
        assert decode(encode(event)) == event


def test_result_says_which_wording_it_is(engine: Engine) -> None:
    conv, first = finish(engine, channel="email")
    assert first.wordings == 3 and first.wording_number == 1
    numbers = []
    for _ in range(3):
        outcome = engine.handle(conv, Another())
        conv = outcome.conversation
        numbers.append(result(outcome).wording_number)
    assert numbers == [2, 3, 1]


def test_typed_full_stop_does_not_double_the_templates_own() -> None:
    from bot.compose import fill

    assert fill("I lead {goal}.", {"goal": "a small team."}) == "I lead a small team."
    assert fill("Hi {name},", {"name": "Jo!"}) == "Hi Jo,"
    assert fill("Re: {role} offer", {"role": "Analyst."}) == "Re: Analyst. offer"
    assert fill("{a} and {b}", {"a": "x"}) is None


def test_following_the_machine_table_matches_firing_the_trigger(engine: Engine) -> None:
    """The engine reads each flow's machine instead of firing it; both must agree everywhere."""
    import random

    class Model:
        def __init__(self, state: str) -> None:
            self.state = state

    rng = random.Random(6)
    checked = 0
    for flow in engine.catalog.flows.values():
        choices = {s.slot: s.options for s in flow.states.values() if s.ask == "choice"}
        texts = [s.slot for s in flow.states.values() if s.ask == "text"]
        for _ in range(40):
            answers = {slot: rng.choice(options) for slot, options in choices.items()}
            answers |= {slot: rng.choice(["", "Acme"]) for slot in texts}
            for state in flow.states.values():
                if state.end:
                    continue
                triggers = [*state.options] if state.ask == "choice" else ["text"]
                for trigger in [*triggers, SKIP] if state.optional else triggers:
                    model = Model(state.name)
                    flow.machine.events[trigger].trigger(model, answers)
                    assert fire(flow, state, trigger, answers) == model.state
                    checked += 1
    assert checked > 1000
