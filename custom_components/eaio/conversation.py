"""The "EAIO" conversation agent: the add-on's assistant, or local answers when it is away."""

from __future__ import annotations

from typing import Literal

from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .addon_coordinator import AddonCoordinator
from .assistant import async_answer
from .coordinator import EaioConfigEntry
from .data import get_energy_today


async def async_setup_entry(
    hass: HomeAssistant, entry: EaioConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    if isinstance(entry.runtime_data, AddonCoordinator):
        async_add_entities([EaioConversationEntity(entry.runtime_data)])


class EaioConversationEntity(conversation.ConversationEntity):
    """Answers questions about the building's energy."""

    _attr_has_entity_name = True
    _attr_name = None
    _attr_translation_key = "assistant"

    def __init__(self, link: AddonCoordinator) -> None:
        entry = link.config_entry
        self.link = link
        self._attr_unique_id = f"{entry.unique_id or entry.entry_id}_assistant"
        self._attr_device_info = link.device_info

    @property
    def supported_languages(self) -> list[str] | Literal["*"]:
        # The add-on's assistant takes any language; the local answers are in English.
        return "*"

    async def _async_handle_message(
        self, user_input: conversation.ConversationInput, chat_log: conversation.ChatLog
    ) -> conversation.ConversationResult:
        answer = await async_answer(self.hass, self.link, get_energy_today(self.hass), user_input.text)
        chat_log.async_add_assistant_content_without_tools(
            conversation.AssistantContent(agent_id=user_input.agent_id, content=answer.text)
        )
        response = intent.IntentResponse(language=user_input.language)
        response.async_set_speech(answer.text)
        return conversation.ConversationResult(response=response, conversation_id=chat_log.conversation_id)
