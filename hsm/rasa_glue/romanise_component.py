"""The NLU pipeline's first and last steps. First, messages in Devanagari or Telugu script are romanised and SMS
spellings of Hinglish evened out (hsm.language.romanise) before the tokenizer sees them, at training and at parsing
alike (entity spans annotated on training examples are moved onto the new text). Last, a parsed message gets its
own words back, with the entities' spans moved onto them: the actions quote and match what the person typed."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from hsm.language.romanise import romanise


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class RomaniseIndianScripts(GraphComponent):
    """Rewrites each message's text in place; a message with nothing to change is left as it is."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RomaniseIndianScripts:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for message in training_data.training_examples:
            rewrite(message)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            rewrite(message, keep_typed=True)
        return messages


ORIGINAL_TEXT = "hsm_original_text"  # where the first step keeps what was typed, for the last


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class RestoreTypedText(GraphComponent):
    """Puts back the text the person typed (kept by RomaniseIndianScripts), the entities' spans moved onto it; the
    entities' values stay as read ("गिटार" is still the instrument "guitar")."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> RestoreTypedText:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            restore(message)
        return messages


def restore(message: Message) -> None:
    """The typed text back in place of the romanised one, with the entities' spans on it."""
    typed = message.get(ORIGINAL_TEXT)
    if typed is None:
        return
    romanised = romanise(typed)
    entities = []
    for entity in message.get(ENTITIES) or []:
        if ENTITY_ATTRIBUTE_START in entity and ENTITY_ATTRIBUTE_END in entity:
            start, end = romanised.original_span(entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END])
            entity = {**entity, ENTITY_ATTRIBUTE_START: start, ENTITY_ATTRIBUTE_END: end}
        entities.append(entity)
    message.set(TEXT, typed)
    message.set(ENTITIES, entities)
    message.data.pop(ORIGINAL_TEXT, None)


def rewrite(message: Message, keep_typed: bool = False) -> None:
    """Romanise the message's text and move its annotated entities (training examples) with it; `keep_typed`
    keeps what was typed for RestoreTypedText."""
    text = message.get(TEXT)
    if not text:
        return
    new = romanise(text)
    if new.text == text:
        return
    entities = []
    for entity in message.get(ENTITIES) or []:
        start, end = new.span(entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END])
        moved = {**entity, ENTITY_ATTRIBUTE_START: start, ENTITY_ATTRIBUTE_END: end}
        if entity.get("value") == text[entity[ENTITY_ATTRIBUTE_START] : entity[ENTITY_ATTRIBUTE_END]]:
            moved["value"] = new.text[start:end]  # no synonym: the value is the words themselves
        entities.append(moved)
    if keep_typed:
        message.set(ORIGINAL_TEXT, text)
    message.set(TEXT, new.text)
    if entities:
        message.set(ENTITIES, entities)
