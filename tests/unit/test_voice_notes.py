"""The "🎤 I heard" line goes above the first reply when Meta's limits leave room for it, else as a message of its own
before the replies (hsm/whatsapp/voice_notes.py `prefaced`)."""

from __future__ import annotations

from hsm.whatsapp import render
from hsm.whatsapp.voice_notes import heard_line, prefaced

LINE = heard_line("all present except sarah")


def test_the_line_goes_above_a_text_reply_and_a_draft_with_buttons():
    (text,) = prefaced(render.text_messages("Saved."), LINE)
    assert text["text"]["body"] == "🎤 I heard: “all present except sarah”\n\nSaved."
    buttons = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
    (draft,) = prefaced(render.render_choices("Save this?", buttons).messages, LINE)
    assert draft["interactive"]["body"]["text"] == f"{LINE}\n\nSave this?"
    assert [b["reply"]["title"] for b in draft["interactive"]["action"]["buttons"]] == ["Yes", "No"]


def test_a_reply_with_no_room_left_gets_the_line_as_a_message_before_it():
    full = "x" * render.INTERACTIVE_BODY_LIMIT
    buttons = [{"title": "Yes", "payload": "/affirm"}]
    draft = render.render_choices(full, buttons).messages
    assert prefaced(draft, LINE) == [{"type": "text", "text": {"body": LINE, "preview_url": False}}, *draft]
    long_text = render.text_messages("y" * render.TEXT_LIMIT)
    assert prefaced(long_text, LINE)[0]["text"]["body"] == LINE
