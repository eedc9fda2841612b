"""The NLU pipeline's first step: messages in Devanagari or Telugu script are romanised, and SMS spellings of
Hinglish evened out (hsm.language.romanise), before the tokenizer sees them, at training and at parsing alike.
Entity spans annotated on training examples are moved onto the new text."""

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
            rewrite(message)
        return messages


def rewrite(message: Message) -> None:
    """Romanise the message's text and move its annotated entities (training examples) with it."""
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
    message.set(TEXT, new.text)
    if entities:
        message.set(ENTITIES, entities)
