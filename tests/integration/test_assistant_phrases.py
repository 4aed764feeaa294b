"""The words of each language recognise what is asked: at least 20 phrasings per intent, English and German.

The recogniser is pure (no Home Assistant), so this reads the shipped translation files directly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custom_components.eaio import intents
from custom_components.eaio.intents import Vocabulary, recognize

TRANSLATIONS = Path(__file__).parents[2] / "custom_components" / "eaio" / "translations"


def _vocab(language: str) -> Vocabulary:
    section = json.loads((TRANSLATIONS / f"{language}.json").read_text(encoding="utf-8"))["assistant"]
    return Vocabulary(section["vocab"], section["subjects"])


EN: dict[str, list[str]] = {
    "energy:today": [
        "How much energy did we use today?", "What's our electricity consumption today?",
        "How many kWh have we used so far?", "Energy usage today", "how much power did the house draw today",
        "What did we consume today?", "Tell me today's energy consumption", "How much electricity since midnight?",
        "kWh used today?", "What have we used so far today in energy?", "How much energy have we burned today",
        "Today's consumption please", "how much electricity are we using today", "energy consumed today",
        "What's the usage so far?", "How much energy did the building use this morning?",
        "How much power have we used tonight?", "Show me how many kilowatt hours we used today",
        "Give me the consumption for today", "how much electricity did we spend today",
    ],
    "energy:week": [
        "How much energy did we use this week?", "Energy consumption this week", "What's our weekly usage?",
        "How many kWh this week?", "How much electricity have we used in the last 7 days?",
        "Weekly energy consumption please", "what did we consume this week", "kWh used over the past week",
        "How much power did we use this week so far?", "Tell me the week's electricity use",
        "energy used this week", "How much did we consume over the week?", "This week's consumption?",
        "How much energy have we used over the last seven days", "week energy usage",
        "What was the electricity usage this week", "How much energy went into the house this week",
        "How much electricity has the building used this week", "Consumption for the week",
        "how many kilowatt hours did we use this week",
    ],
    "energy:month": [
        "How much energy did we use this month?", "Monthly consumption?", "What's our electricity usage this month?",
        "kWh this month", "How much power have we used in the last 30 days?", "Energy consumption this month please",
        "what did we consume this month", "How much electricity did the house use this month so far?",
        "Tell me the month's energy use", "this month's consumption", "How many kilowatt hours this month?",
        "month to date energy usage", "How much did we consume over the month?", "energy used this month",
        "What's the monthly energy consumption", "How much electricity has been used this month",
        "Consumption for the month", "how much energy in the last thirty days", "Monthly electricity use",
        "What was the usage this month",
    ],
    "forecast": [
        "What's the forecast for tomorrow?", "How much energy will we use tomorrow?", "What do you expect tomorrow?",
        "Predict tomorrow's consumption", "What's the outlook for the next day?", "Tomorrow's forecast please",
        "How much electricity will we need tomorrow?", "What is the energy forecast?", "forecast",
        "What are we going to use tomorrow?", "How much power is expected for tomorrow?", "Give me the prediction",
        "What is the projected consumption tomorrow?", "How much will we use tomorrow", "Expected usage tomorrow?",
        "What will tomorrow look like for energy?", "Load forecast", "What's predicted for the coming day?",
        "How much kWh do you predict for tomorrow?", "Tell me the forecast",
    ],
    "recommendations": [
        "What should I do to save energy?", "Any recommendations?", "How can we save money?",
        "What do you recommend?", "Give me some tips", "What's the top recommendation?",
        "Any suggestions to lower my bill?", "What can I do to cut costs?", "How do I save energy?",
        "What's your advice?", "Any ideas to improve efficiency?", "What would you suggest?",
        "Should I change anything?", "What's the best thing to do now?", "Recommendations please",
        "What can we do to reduce my bill?", "Tips for saving electricity", "What do you propose?",
        "What are the open proposals?", "Which saving do you suggest first?",
    ],
    "why": [
        "Why?", "why", "Why is that?", "How come?", "What's the reason?", "Explain", "Why that one?",
        "Why do you recommend that?", "Why this recommendation?", "Explain the recommendation",
        "What are the reasons?", "why so?", "Why should I do that?", "Explain please", "And why?",
        "What's the reason for the recommendation?", "Why would that help?", "why that",
        "Why do you suggest pre-cooling?", "What makes you suggest that?",
    ],
    "savings": [
        "How much have we saved?", "What are the verified savings?", "Did we save anything?",
        "How much did we save so far?", "What savings were measured?", "Show me the measured savings",
        "How much energy have we saved?", "What has EAIO saved?", "Savings so far?",
        "How much have the recommendations saved?", "What did we actually save?", "Verified energy savings",
        "What did we save last week?", "Have we saved money?", "How much money did we save?",
        "Realized savings?", "How much has been saved", "What have we achieved?", "how much kwh saved",
        "What savings have been verified?",
    ],
    "devices": [
        "Are all devices online?", "Device status", "Is everything ok?", "Which devices are offline?",
        "Are the meters working?", "Is the inverter connected?", "What's the status?", "Are any sensors unavailable?",
        "Is the heat pump reachable?", "Status of the devices", "Are all meters answering?",
        "Is everything fine with the devices?", "Which sensors are offline", "Are my devices available?",
        "Is the meter responding?", "Check the devices", "Any device unavailable?", "How is the health of the system?",
        "Is the building meter online?", "Are all the devices connected?",
    ],
    "autopilot_status": [
        "What is autopilot doing?", "Is autopilot on?", "Autopilot status", "Is the autopilot active for the battery?",
        "What's the autopilot up to?", "Which controllables are on autopilot?", "Tell me about autopilot",
        "Is automatic control on?", "Is autopilot off?", "Show autopilot", "Does autopilot run?",
        "what does the autopilot do right now", "Is the battery on autopilot?", "autopilot?",
        "Where is autopilot on?", "What is the auto pilot doing with the car?", "Is automatic mode on?",
        "How is autopilot doing?", "Autopilot state for the dishwasher", "Is the autopilot working?",
    ],
    "autopilot_set:on": [
        "Turn on autopilot", "Turn autopilot on for the battery", "Enable autopilot", "Switch on the autopilot",
        "Activate autopilot for the car", "Start the autopilot", "Please turn on the autopilot for the battery",
        "Enable automatic control", "Resume autopilot", "Put the battery on autopilot", "switch autopilot on",
        "Turn on the autopilot for the dishwasher", "Activate the autopilot", "enable the autopilot for the car charger",
        "Can you turn autopilot on?", "Start autopilot on the battery", "Turn the autopilot on please",
        "Set autopilot on", "switch on automatic mode", "Engage autopilot",
    ],
    "autopilot_set:off": [
        "Turn off autopilot", "Turn autopilot off for the battery", "Disable autopilot", "Switch off the autopilot",
        "Deactivate autopilot for the car", "Stop the autopilot", "Please turn off the autopilot for the battery",
        "Disable automatic control", "Pause autopilot", "Take the battery off autopilot and stop it",
        "switch autopilot off", "Turn off the autopilot for the dishwasher", "Deactivate the autopilot",
        "disable the autopilot for the car charger", "Can you turn autopilot off?", "Stop autopilot on the battery",
        "Turn the autopilot off please", "Set autopilot off", "switch off automatic mode", "Suspend autopilot",
    ],
    "apply": [
        "Apply the top recommendation", "Apply it", "Apply the recommendation", "Please apply that",
        "Carry out the top recommendation", "Implement the recommendation", "Go ahead with the recommendation",
        "Apply the best suggestion", "Execute the recommendation", "Follow the recommendation",
        "Apply the first recommendation", "Accept the recommendation", "Apply this", "Implement it",
        "Put the recommendation in place", "Act on the recommendation", "Apply the suggestion",
        "Carry it out", "apply the main recommendation", "Apply number one",
    ],
    "act": [
        "Turn down the heating a bit", "Lower the thermostat", "Turn up the heat", "Switch off the lights",
        "Set the temperature to 20 degrees", "Charge the battery now", "Start the dishwasher",
        "Turn on the washing machine", "Reduce the heating", "Make it warmer", "Dim the lights",
        "Stop charging the car", "Increase the temperature", "Switch on the pool pump", "Discharge the battery",
        "Boost the heating", "Turn the radiator down", "Close the blinds", "Change the thermostat setting",
        "Adjust the heating",
    ],
}  # fmt: skip

DE: dict[str, list[str]] = {
    "energy:today": [
        "Wie viel Energie haben wir heute verbraucht?", "Wie hoch ist der Stromverbrauch heute?",
        "Wie viele kWh haben wir bisher genutzt?", "Energieverbrauch heute", "Wie viel Strom hat das Haus heute gebraucht?",
        "Was haben wir heute verbraucht?", "Sag mir den heutigen Verbrauch", "Wie viel Strom seit Mitternacht?",
        "kWh heute?", "Wie viel Energie bis jetzt?", "Heutiger Energieverbrauch bitte", "Wie viel Strom verbrauchen wir heute",
        "Verbrauch heute", "Wie hoch ist der bisherige Verbrauch heute?", "Wie viel Energie hat das Gebäude heute benötigt?",
        "Zeig mir die Kilowattstunden von heute", "Wie viel Strom wurde heute verbraucht?", "Stromverbrauch bis jetzt",
        "Was zeigt der Verbrauch heute?", "Wie viel haben wir heute an Strom verbraucht",
    ],
    "energy:week": [
        "Wie viel Energie haben wir diese Woche verbraucht?", "Stromverbrauch diese Woche", "Wochenverbrauch?",
        "Wie viele kWh diese Woche?", "Wie viel Strom in den letzten 7 Tagen?", "Energieverbrauch der Woche bitte",
        "Was haben wir diese Woche verbraucht", "Verbrauch in dieser Woche", "Wie hoch ist der Wochenverbrauch an Strom?",
        "Wie viel Strom hat das Haus diese Woche gebraucht?", "Energie diese Woche", "Wöchentlicher Verbrauch",
        "Wie viel Energie in den letzten sieben Tagen", "Kilowattstunden diese Woche", "Strom diese Woche?",
        "Wie viel wurde diese Woche verbraucht?", "Wie hoch war der Stromverbrauch in dieser Woche",
        "Sag mir den Verbrauch der Woche", "Wie viel Energie hat das Gebäude diese Woche benötigt?",
        "Verbrauch dieser Woche bisher",
    ],
    "energy:month": [
        "Wie viel Energie haben wir diesen Monat verbraucht?", "Stromverbrauch diesen Monat", "Monatsverbrauch?",
        "Wie viele kWh diesen Monat?", "Wie viel Strom in den letzten 30 Tagen?", "Energieverbrauch des Monats bitte",
        "Was haben wir diesen Monat verbraucht", "Verbrauch in diesem Monat", "Wie hoch ist der Monatsverbrauch an Strom?",
        "Wie viel Strom hat das Haus diesen Monat gebraucht?", "Energie diesen Monat", "Monatlicher Verbrauch",
        "Kilowattstunden diesen Monat", "Strom diesen Monat?", "Wie viel wurde diesen Monat verbraucht?",
        "Wie hoch war der Stromverbrauch in diesem Monat", "Sag mir den Verbrauch des Monats",
        "Wie viel Energie hat das Gebäude diesen Monat benötigt?", "Verbrauch diesen Monat bisher",
        "Stromverbrauch im Monat",
    ],
    "forecast": [
        "Wie ist die Prognose für morgen?", "Wie viel Energie verbrauchen wir morgen?", "Was erwartest du für morgen?",
        "Vorhersage für morgen", "Wie sieht der Ausblick aus?", "Prognose bitte", "Wie viel Strom brauchen wir morgen?",
        "Was ist die Energieprognose?", "Prognose", "Was wird morgen verbraucht?", "Wie viel Strom wird morgen erwartet?",
        "Gib mir die Vorhersage", "Wie hoch ist der erwartete Verbrauch?", "Verbrauchsprognose",
        "Was sagt die Lastprognose?", "Wie wird der Verbrauch morgen?", "Erwarteter Verbrauch morgen?",
        "Wie viele kWh erwartest du morgen?", "Sag mir die Vorhersage", "Was ist für übermorgen vorausgesagt?",
    ],
    "recommendations": [
        "Was soll ich tun, um Energie zu sparen?", "Hast du Empfehlungen?", "Wie können wir Geld sparen?",
        "Was empfiehlst du?", "Gib mir ein paar Tipps", "Was ist die wichtigste Empfehlung?",
        "Hast du Vorschläge?", "Was kann ich tun, um Kosten zu senken?", "Wie spare ich Strom?",
        "Was rätst du mir?", "Hast du Ideen zum Sparen?", "Was würdest du vorschlagen?", "Was sollen wir ändern?",
        "Empfehlungen bitte", "Was können wir tun?", "Spartipps bitte", "Welche Vorschläge gibt es?",
        "Was ist dein Rat?", "Welche Sparmöglichkeiten gibt es?", "Wie wird es günstiger?",
    ],
    "why": [
        "Warum?", "warum", "Wieso?", "Weshalb?", "Warum das?", "Was ist der Grund?", "Erklär das",
        "Warum empfiehlst du das?", "Warum diese Empfehlung?", "Erkläre die Empfehlung", "Welche Gründe gibt es?",
        "Wieso das?", "Warum soll ich das tun?", "Bitte erklären", "Und warum?", "Was ist die Begründung?",
        "Warum hilft das?", "Wie kommt das?", "Warum schlägst du das vor?", "Begründe die Empfehlung",
    ],
    "savings": [
        "Wie viel haben wir gespart?", "Was sind die nachgewiesenen Einsparungen?", "Haben wir etwas eingespart?",
        "Wie viel haben wir bisher gespart?", "Welche Einsparung wurde gemessen?", "Zeig mir die Ersparnis",
        "Wie viel Energie haben wir eingespart?", "Was hat EAIO gespart?", "Ersparnis bisher?",
        "Wie viel haben die Empfehlungen gespart?", "Was haben wir tatsächlich gespart?", "Verifizierte Einsparungen",
        "Was haben wir letzte Woche gespart?", "Haben wir Geld gespart?", "Wie hoch ist die Ersparnis?",
        "Nachgewiesene Einsparung?", "Wie viel wurde eingespart", "Gemessene Einsparungen", "Wie viele kWh gespart?",
        "Welche Einsparungen sind verifiziert?",
    ],
    "devices": [
        "Sind alle Geräte online?", "Gerätestatus", "Ist alles in Ordnung?", "Welche Geräte sind offline?",
        "Funktionieren die Zähler?", "Ist der Wechselrichter verbunden?", "Wie ist der Status?",
        "Sind Sensoren nicht verfügbar?", "Ist die Wärmepumpe erreichbar?", "Status der Geräte",
        "Antworten alle Zähler?", "Ist alles ok mit den Geräten?", "Welche Sensoren sind offline",
        "Sind meine Geräte verfügbar?", "Ist der Zähler erreichbar?", "Prüfe die Geräte",
        "Ist ein Gerät nicht erreichbar?", "Laufen alle Geräte?", "Ist der Hauszähler online?",
        "Sind alle Geräte verbunden?",
    ],
    "autopilot_status": [
        "Was macht der Autopilot?", "Ist der Autopilot an?", "Autopilot-Status", "Ist der Autopilot für die Batterie aktiv?",
        "Was tut der Autopilot gerade?", "Welche Geräte laufen mit Autopilot?", "Erzähl mir vom Autopiloten",
        "Ist die Automatik an?", "Ist der Autopilot aus?", "Zeig den Autopiloten", "Läuft der Autopilot?",
        "Was macht die Automatik gerade", "Ist die Batterie im Autopilot?", "Autopilot?", "Wo ist der Autopilot an?",
        "Was macht der Autopilot mit dem Auto?", "Ist der Automatikbetrieb an?", "Wie läuft der Autopilot?",
        "Autopilot-Zustand der Spülmaschine", "Funktioniert der Autopilot?",
    ],
    "autopilot_set:on": [
        "Schalte den Autopiloten ein", "Autopilot für die Batterie einschalten", "Aktiviere den Autopiloten",
        "Schalt den Autopilot an", "Aktiviere den Autopiloten für das Auto", "Starte den Autopiloten",
        "Bitte schalte den Autopiloten für die Batterie ein", "Automatik einschalten", "Autopilot fortsetzen",
        "Schalte die Batterie auf Autopilot ein", "Autopilot anschalten", "Schalte den Autopiloten für die Spülmaschine ein",
        "Aktiviere die Automatik", "Autopilot für die Wallbox aktivieren", "Kannst du den Autopiloten einschalten?",
        "Starte den Autopilot für die Batterie", "Mach den Autopilot an", "Stell den Autopiloten an",
        "Automatikbetrieb einschalten", "Autopilot aktivieren",
    ],
    "autopilot_set:off": [
        "Schalte den Autopiloten aus", "Autopilot für die Batterie ausschalten", "Deaktiviere den Autopiloten",
        "Schalt den Autopilot ab", "Deaktiviere den Autopiloten für das Auto", "Stoppe den Autopiloten",
        "Bitte schalte den Autopiloten für die Batterie aus", "Automatik ausschalten", "Autopilot pausieren",
        "Nimm die Batterie vom Autopiloten und schalte ihn aus", "Autopilot abschalten",
        "Schalte den Autopiloten für die Spülmaschine aus", "Deaktiviere die Automatik",
        "Autopilot für die Wallbox deaktivieren", "Kannst du den Autopiloten ausschalten?",
        "Stoppe den Autopilot für die Batterie", "Mach den Autopilot aus", "Stell den Autopiloten ab",
        "Automatikbetrieb ausschalten", "Autopilot deaktivieren",
    ],
    "apply": [
        "Wende die Empfehlung an", "Wende sie an", "Empfehlung anwenden", "Bitte wende das an",
        "Setze die Empfehlung um", "Setz sie um", "Führe die Empfehlung aus", "Übernimm die Empfehlung",
        "Wende die beste Empfehlung an", "Die erste Empfehlung anwenden", "Nimm die Empfehlung an",
        "Befolge die Empfehlung", "Setze das um", "Führ sie aus", "Übernehme den Vorschlag",
        "Den Vorschlag umsetzen", "Wende den Vorschlag an", "Die wichtigste Empfehlung durchführen",
        "Empfehlung übernehmen", "Wende diese Empfehlung an",
    ],
    "act": [
        "Dreh die Heizung ein bisschen runter", "Senke die Temperatur", "Mach es wärmer", "Schalte das Licht aus",
        "Stell die Temperatur auf 20 Grad", "Lade die Batterie jetzt", "Starte die Spülmaschine",
        "Schalte die Waschmaschine ein", "Reduziere die Heizung", "Dreh die Heizung hoch", "Dimme das Licht",
        "Stoppe das Laden des Autos", "Erhöhe die Temperatur", "Schalte die Poolpumpe ein", "Entlade die Batterie",
        "Regle die Heizung runter", "Dreh den Heizkörper runter", "Mach das Licht an", "Ändere die Thermostateinstellung",
        "Setz die Heizung niedriger",
    ],
}  # fmt: skip

YES = {
    "en": [
        "yes",
        "Yes please",
        "yeah",
        "sure",
        "ok",
        "okay, do it",
        "go ahead",
        "confirm",
        "yep",
        "of course",
    ],
    "de": [
        "ja",
        "Ja bitte",
        "genau",
        "gerne",
        "ok",
        "okay, mach das",
        "los",
        "bestätigt",
        "klar",
        "natürlich",
    ],
}
NO = {"en": ["no", "No thanks", "nope", "cancel", "don't", "never mind", "not now", "forget it", "abort", "leave it"],
      "de": ["nein", "Nein danke", "nee", "abbrechen", "lieber nicht", "doch nicht", "vergiss es", "lass es",
             "auf keinen Fall", "nicht jetzt"]}  # fmt: skip


def _cases(phrases: dict[str, list[str]], language: str) -> list[tuple[str, str, str]]:
    return [(language, key, text) for key, texts in phrases.items() for text in texts]


@pytest.mark.parametrize("phrases", [EN, DE], ids=["en", "de"])
def test_at_least_twenty_phrasings_per_intent(phrases: dict[str, list[str]]) -> None:
    assert all(len(set(texts)) >= 20 for texts in phrases.values()), {k: len(v) for k, v in phrases.items()}


@pytest.mark.parametrize(("language", "key", "text"), _cases(EN, "en") + _cases(DE, "de"))
def test_phrasing_is_recognised(language: str, key: str, text: str) -> None:
    name, _, detail = key.partition(":")
    intent = recognize(text, _vocab(language))
    assert intent.name == name, (text, intent)
    if name == intents.ENERGY:
        assert intent.period == detail, (text, intent)
    if name == intents.AUTOPILOT_SET:
        assert intent.turn_on is (detail == "on"), (text, intent)


@pytest.mark.parametrize("language", ["en", "de"])
def test_yes_and_no_only_answer_a_pending_proposal(language: str) -> None:
    vocab = _vocab(language)
    for text in YES[language]:
        assert recognize(text, vocab, pending=True).name == intents.YES, text
        assert recognize(text, vocab, pending=False).name != intents.YES, text
    for text in NO[language]:
        assert recognize(text, vocab, pending=True).name == intents.NO, text


@pytest.mark.parametrize(
    ("language", "text", "subject"),
    [
        ("en", "Turn down the heating a bit", "heating"),
        ("en", "Charge the car now", "car"),
        ("de", "Dreh die Heizung ein bisschen runter", "heating"),
        ("de", "Lade die Batterie jetzt", "battery"),
    ],
)
def test_a_request_names_its_subject(language: str, text: str, subject: str) -> None:
    assert recognize(text, _vocab(language)).subject == subject


def test_unrelated_questions_are_not_claimed() -> None:
    vocab = _vocab("en")
    for text in ("Why is my bill so high?", "Tell me a joke", "Who are you?"):
        assert recognize(text, vocab).name is None, text
