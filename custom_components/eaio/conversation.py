"""The "EAIO" conversation agent: answers question by question, remembers the conversation."""

from __future__ import annotations

from typing import Literal

from homeassistant.components import conversation
from homeassistant.core import HomeAssistant
from homeassistant.helpers import intent
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .addon_coordinator import AddonCoordinator
from .assistant import async_answer, async_watch_link
from .conversation_memory import ConversationMemory
from .coordinator import EaioConfigEntry
from .data import get_energy_today

# The agent polls nothing and answers each conversation on its own: no limit needed.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: EaioConfigEntry, async_add_entities: AddEntitiesCallback
) -> None:
    if isinstance(entry.runtime_data, AddonCoordinator):
        entry.async_on_unload(async_watch_link(hass, entry.runtime_data))
        async_add_entities([EaioConversationEntity(entry.runtime_data)])


class EaioConversationEntity(conversation.ConversationEntity):
    """Answers questions about the building's energy and carries out confirmed requests."""

    _attr_has_entity_name = True
    _attr_name = None
    _attr_translation_key = "assistant"

    def __init__(self, link: AddonCoordinator) -> None:
        entry = link.config_entry
        self.link = link
        self.memory = ConversationMemory()
        self._attr_unique_id = f"{entry.unique_id or entry.entry_id}_assistant"
        self._attr_device_info = link.device_info

    @property
    def supported_languages(self) -> list[str] | Literal["*"]:
        # Local answers come in every language EAIO has translations for (English fills the gaps);
        # the add-on's assistant takes any language.
        return "*"

    async def _async_handle_message(
        self, user_input: conversation.ConversationInput, chat_log: conversation.ChatLog
    ) -> conversation.ConversationResult:
        conv = self.memory.get(chat_log.conversation_id)
        answer = await async_answer(
            self.hass,
            self.link,
            get_energy_today(self.hass),
            user_input.text,
            language=user_input.language,
            conversation=conv,
            context=user_input.context,
            conversation_id=chat_log.conversation_id,
        )
        conv.remember(user_input.text, answer.text)
        chat_log.async_add_assistant_content_without_tools(
            conversation.AssistantContent(agent_id=user_input.agent_id, content=answer.text)
        )
        response = intent.IntentResponse(language=user_input.language)
        response.async_set_speech(answer.text)
        return conversation.ConversationResult(
            response=response,
            conversation_id=chat_log.conversation_id,
            continue_conversation=conv.pending() is not None,
        )
