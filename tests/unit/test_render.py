"""Rendering the bot's replies within Meta's limits: buttons, then a list, then numbered text; long text split."""

from devtools.sandbox import validate_message
from hsm.whatsapp import render


def buttons(*titles: str) -> list[dict]:
    return [{"title": t, "payload": f'/choose{{"n": {i}}}'} for i, t in enumerate(titles)]


def check_with_sandbox(message: dict) -> None:
    validate_message({"messaging_product": "whatsapp", "to": "919876543210", **message})


def test_up_to_three_short_titles_are_reply_buttons_with_the_payload_as_id():
    rendered = render.render_choices("Save this?", buttons("Yes", "No", "Edit"))
    (message,) = rendered.messages
    assert message["interactive"]["type"] == "button"
    assert [b["reply"]["id"] for b in message["interactive"]["action"]["buttons"]] == [
        '/choose{"n": 0}',
        '/choose{"n": 1}',
        '/choose{"n": 2}',
    ]
    assert [o.title for o in rendered.options] == ["Yes", "No", "Edit"]
    check_with_sandbox(message)


def test_four_options_or_long_titles_become_a_list():
    four = render.render_choices("Which batch?", buttons("Guitar 5pm", "Piano 7pm", "Keys 6pm", "Drums"))
    assert four.messages[0]["interactive"]["type"] == "list"
    long_title = render.render_choices("Which one?", buttons("Guitar Beginner 5:00 PM", "Piano"))
    assert long_title.messages[0]["interactive"]["type"] == "list"
    for rendered in (four, long_title):
        check_with_sandbox(rendered.messages[0])


def test_row_titles_over_24_characters_are_shortened_with_the_full_text_as_description():
    rendered = render.render_choices("Pick", buttons("Carnatic Vocals Beginner Mon/Thu 4 PM", "Tabla"))
    row = rendered.messages[0]["interactive"]["action"]["sections"][0]["rows"][0]
    assert len(row["title"]) <= 24 and row["title"].endswith("…")
    assert row["description"] == "Carnatic Vocals Beginner Mon/Thu 4 PM"
    check_with_sandbox(rendered.messages[0])


def test_more_than_ten_options_become_numbered_text():
    rendered = render.render_choices("Who was absent?", buttons(*[f"Student {i}" for i in range(1, 13)]))
    (message,) = rendered.messages
    body = message["text"]["body"]
    assert "1. Student 1" in body and "12. Student 12" in body and "Reply with a number" in body
    assert len(rendered.options) == 12 and rendered.options[1].payload == '/choose{"n": 1}'


def test_payloads_too_long_for_an_id_are_referenced_by_number():
    long_payload = "/inform" + "x" * 300
    rendered = render.render_choices("Pick", [{"title": "A", "payload": long_payload}, {"title": "B", "payload": "/b"}])
    ids = [b["reply"]["id"] for b in rendered.messages[0]["interactive"]["action"]["buttons"]]
    assert ids == ["opt:1", "/b"]
    assert rendered.options[0].payload == long_payload


def test_long_body_with_buttons_is_sent_as_text_first():
    rendered = render.render_choices("word " * 300, buttons("Yes", "No"))
    assert [m["type"] for m in rendered.messages] == ["text", "interactive"]
    for message in rendered.messages:
        check_with_sandbox(message)


def test_text_over_4096_characters_is_split_on_boundaries():
    paragraph = ("All present in Guitar Beginner. " * 40).strip()
    text = "\n\n".join([paragraph] * 6)
    parts = render.split_text(text)
    assert len(parts) == 2 and all(len(p) <= 4096 for p in parts)
    assert "".join(parts).replace("\n", "").replace(" ", "") == text.replace("\n", "").replace(" ", "")
    assert render.split_text("x" * 9000) == ["x" * 4096, "x" * 4096, "x" * 808]
    for message in render.text_messages(text):
        check_with_sandbox(message)


def test_custom_json_passes_through_and_media_render():
    location = {"type": "location", "location": {"latitude": 17.43, "longitude": 78.41, "name": "HSM"}}
    assert render.render_custom(location) == [location]
    assert render.render_custom({"whatsapp": location}) == [location]
    assert render.render_custom({"not": "a message"}) == []
    image = render.render_image("https://hsm.example/timetable.png", "Timetable")
    document = render.render_document("https://hsm.example/receipt.pdf", "receipt.pdf")
    for message in (location, image, document):
        check_with_sandbox(message)
