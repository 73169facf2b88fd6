"""Answers checked against the interaction as the viewer's row was asked it: every shape, and every
kind of bad input refused with the field path named."""

from __future__ import annotations

import pytest

from pvideo.plan.interactive import find, resolve_interactive
from pvideo.scene.answers import AnswerError, CheckedAnswer, check_answer, form_answer
from pvideo.scene.spec import SceneSpec
from tests.tracking.answering import SCENE

ROW = {"customer_id": "c1", "first_name": "Ann", "email": "ann@example.com", "price": 9.0, "plan": "Basic"}
ASKED = resolve_interactive(SceneSpec.model_validate(SCENE), ROW, duration=40.0)


def asked(interaction_id: str) -> dict:
    found = find(ASKED, interaction_id)
    assert found is not None
    return found


def refused(interaction_id: str, answer: object) -> str:
    with pytest.raises(AnswerError) as caught:
        check_answer(asked(interaction_id), answer)
    return str(caught.value)


def test_each_shape_is_stored_normalized():
    assert check_answer(asked("recommend"), {"score": 10}) == CheckedAnswer({"score": 10})
    assert check_answer(asked("recommend"), {"score": 0.0}).answer == {"score": 0}
    assert check_answer(asked("topic"), {"choices": ["service"]}).answer == {"choices": ["service"]}
    assert check_answer(asked("channels"), {"choices": ["post", "email"]}).answer == {"choices": ["email", "post"]}
    assert check_answer(asked("stars"), {"stars": 5}).answer == {"stars": 5}
    assert check_answer(asked("path"), {"section": "savings"}) == CheckedAnswer(
        {"section": "savings"}, section="savings"
    )
    assert check_answer(asked("meet"), {"opened": True}).answer == {"opened": True}
    form = check_answer(
        asked("contact"),
        {
            "fields": {
                "email": "  ann@example.com ",
                "phone": "+44 (20) 7946-0958",
                "note": '<script>alert("x")</script>',
                "seats": "12",
                "size": "large",
                "start": "2027-02-28",
            },
            "consent": True,
        },
    )
    assert form == CheckedAnswer(
        {
            "fields": {
                "email": "ann@example.com",
                "phone": "+44 (20) 7946-0958",
                "note": '<script>alert("x")</script>',  # text stays text: escaped wherever it is shown
                "seats": 12,
                "size": "large",
                "start": "2027-02-28",
            },
            "consent": True,
        },
        pii=True,
        consent=True,
    )
    only_numbers = check_answer(asked("contact"), {"fields": {"email": "a@b.co", "seats": 3.5}, "consent": True})
    assert only_numbers.answer["fields"] == {"email": "a@b.co", "seats": 3.5} and only_numbers.pii  # email is PII


@pytest.mark.parametrize(
    ("interaction", "answer", "message"),
    [
        ("topic", {"choices": ["x"]}, "answer.choices: 'x' is not a choice (price, service)"),
        ("topic", {"choices": ["price", "service"]}, "answer.choices: exactly one choice (got 2)"),
        ("topic", {"choices": []}, "answer.choices: expected a list of choice ids"),
        ("topic", {"choices": "price"}, "answer.choices: expected a list of choice ids"),
        ("topic", {"choices": [7]}, "answer.choices.0: expected text"),
        ("channels", {"choices": ["sms", "sms"]}, "answer.choices: each choice at most once"),
        ("topic", {"choice": ["price"]}, "answer.choice: unexpected (this answer has choices)"),
        ("recommend", {"score": 11}, "answer.score: expected a whole number from 0 to 10 (got 11)"),
        ("recommend", {"score": "9"}, "answer.score: expected a whole number from 0 to 10"),
        ("recommend", {"score": True}, "answer.score: expected a whole number from 0 to 10"),
        ("recommend", {"score": 7.5}, "answer.score: expected a whole number from 0 to 10"),
        ("recommend", {}, "answer.score: expected a whole number from 0 to 10"),
        ("stars", {"stars": 0}, "answer.stars: expected a whole number from 1 to 5 (got 0)"),
        ("stars", {"stars": 6}, "answer.stars: expected a whole number from 1 to 5 (got 6)"),
        ("contact", {"fields": {"email": "nope"}, "consent": True}, "answer.fields.email: expected an email address"),
        ("contact", {"fields": {"email": "a@b.co"}}, "answer.consent: consent is required"),
        ("contact", {"fields": {"email": "a@b.co"}, "consent": False}, "answer.consent: consent is required"),
        ("contact", {"fields": {"email": "a@b.co"}, "consent": "yes"}, "answer.consent: expected true or false"),
        ("contact", {"fields": {}, "consent": True}, "answer.fields.email: required"),
        ("contact", {"fields": {"email": "  "}, "consent": True}, "answer.fields.email: required"),
        ("contact", {"fields": {"email": "a@b.co", "fax": "1"}, "consent": True},
         "answer.fields.fax: not a field of this form (email, phone, note, seats, size, start)"),
        ("contact", {"fields": {"email": "a@b.co", "note": "x" * 201}, "consent": True},
         "answer.fields.note: at most 200 characters (got 201)"),
        ("contact", {"fields": {"email": "a@b.co", "note": "x" * 10_240}, "consent": True},
         "answer.fields.note: at most 200 characters (got 10240)"),
        ("contact", {"fields": {"email": "a\x00@b.co"}, "consent": True},
         "answer.fields.email: NUL characters are not allowed"),
        ("contact", {"fields": {"email": "a@b.co", "note": "\ud800"}, "consent": True},
         "answer.fields.note: not valid Unicode (a lone surrogate)"),
        ("contact", {"fields": {"email": "a@b.co", "phone": "call me"}, "consent": True},
         "answer.fields.phone: expected a phone number (digits, spaces, + ( ) - . /)"),
        ("contact", {"fields": {"email": "a@b.co", "seats": 51}, "consent": True}, "answer.fields.seats: at most 50"),
        ("contact", {"fields": {"email": "a@b.co", "seats": "1_000"}, "consent": True},
         "answer.fields.seats: expected a number"),
        ("contact", {"fields": {"email": "a@b.co", "seats": float("nan")}, "consent": True},
         "answer.fields.seats: expected a number"),
        ("contact", {"fields": {"email": "a@b.co", "size": "huge"}, "consent": True},
         "answer.fields.size: 'huge' is not a choice (small, large)"),
        ("contact", {"fields": {"email": "a@b.co", "start": "2027-02-30"}, "consent": True},
         "answer.fields.start: expected a date as YYYY-MM-DD"),
        ("contact", {"fields": ["a@b.co"], "consent": True}, "answer.fields: expected an object of field names to values"),
        ("path", {"section": "support"}, "answer.section: 'support' is not one of the paths offered (billing, savings)"),
        ("meet", {"opened": False}, "answer.opened: expected true"),
        ("meet", None, "answer: expected an object"),
        ("meet", ["opened"], "answer: expected an object"),
    ],
)  # fmt: skip
def test_bad_answers_are_refused_naming_the_field(interaction, answer, message):
    assert refused(interaction, answer) == message


def test_only_the_paths_the_row_keeps_are_offered():
    spec = SceneSpec.model_validate(
        dict(SCENE, sections=[dict(SCENE["sections"][0], when="plan == 'VIP'"), SCENE["sections"][1]])
    )
    path = find(resolve_interactive(spec, ROW, duration=40.0), "path")
    assert path is not None and [o["section"] for o in path["options"]] == ["savings"]
    with pytest.raises(AnswerError, match="'billing' is not one of the paths offered \\(savings\\)"):
        check_answer(path, {"section": "billing"})


def test_an_optional_consent_may_be_declined_and_a_form_without_one_stores_none():
    scene = dict(SCENE, interactions=[dict(SCENE["interactions"][4], consent={"text": "News?", "required": False})])
    form = find(resolve_interactive(SceneSpec.model_validate(scene), ROW), "contact")
    assert check_answer(form, {"fields": {"email": "a@b.co"}, "consent": False}).consent is False
    del scene["interactions"][0]["consent"]
    bare = find(resolve_interactive(SceneSpec.model_validate(scene), ROW), "contact")
    checked = check_answer(bare, {"fields": {"email": "a@b.co"}})
    assert checked.consent is None and checked.answer == {"fields": {"email": "a@b.co"}}


def test_a_form_without_javascript_means_the_same_answers():
    assert form_answer(asked("topic"), [("choice", "price")]) == {"choices": ["price"]}
    assert form_answer(asked("channels"), [("choice", "email"), ("choice", "post")]) == {"choices": ["email", "post"]}
    assert form_answer(asked("recommend"), [("score", "9")]) == {"score": 9}
    assert form_answer(asked("recommend"), [("score", "nine")]) == {"score": "nine"}  # refused by the check
    assert form_answer(asked("stars"), [("stars", "4")]) == {"stars": 4}
    assert form_answer(asked("path"), [("section", "billing")]) == {"section": "billing"}
    sent = [("email", "a@b.co"), ("seats", "3"), ("consent", "on"), ("csrf", "ignored")]
    assert form_answer(asked("contact"), sent) == {"fields": {"email": "a@b.co", "seats": "3"}, "consent": True}
    assert form_answer(asked("contact"), [("email", "a@b.co")])["consent"] is False
    twice = form_answer(asked("contact"), [("email", "a@b.co"), ("email", "c@d.co"), ("consent", "on")])
    with pytest.raises(AnswerError, match="answer.fields.email: expected text"):
        check_answer(asked("contact"), twice)
