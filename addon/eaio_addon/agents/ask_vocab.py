"""The words the assistant recognises, per language: a copy of ``assistant.vocab`` and ``assistant.subjects``
from the integration's translation files (a test keeps them equal).
"""

VOCAB: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "vocab": {
            "energy": "energy|electricity|power|kwh|kilowatt*|consum*|use|used|using|usage|draw|drew|drawn|burn*|spent|spend|meter reading*",
            "today": "today*|so far|this morning|this afternoon|this evening|tonight|since midnight",
            "week": "week*|last 7 days|last seven days|past seven days",
            "month": "month*|last 30 days|last thirty days",
            "forecast": "forecast*|tomorrow*|expect*|predict*|outlook|next day|coming day|will we use|will we need|going to use|projection|projected",
            "recommendation": "recommend*|suggest*|advice|advise|tip|tips|save|saving|should i|should we|what can i do|what can we do|idea*|improve|cut my|cut our|lower my bill|reduce my bill|best thing|proposal*|propose*|top one|what to do",
            "why": "why|reason*|how come|explain*|what makes you",
            "savings": "saved|verified|measured saving*|realized|realised|actually sav*|savings so far|have we sav*|did we sav*|has eaio sav*|achieved|savings achieved|measured",
            "devices": "device*|meter|meters|online|offline|unavailable|available|status|working|connected|sensor*|inverter*|heat pump|everything ok|everything fine|all ok|reachable|answering|responding|health*",
            "autopilot": "autopilot*|auto pilot*|automatic control|automatic mode",
            "act": "turn|switch|set|lower|raise|increase|decrease|reduce|start|stop|enable|disable|activate|deactivate|put|make it|dim|boost|charge|discharge|crank|bump|change|adjust|open|close|pause|resume|engage|suspend|resume|disengage",
            "on": "on|enable|activate|start|engage|resume",
            "off": "off|disable|deactivate|stop|pause|disengage|suspend",
            "apply": "apply|carry out|implement|go ahead with|execute|follow|act on|put in place|accept|do the|take the|put|carry",
            "top": "top|best|first|number one|main|biggest|that|it|this",
            "yes": "yes|yeah|yep|yup|sure|ok|okay|do it|go ahead|confirm*|please do|correct|absolutely|of course|fine|affirmative|alright|all right",
            "no": "no|nope|cancel*|don't|do not|never mind|nevermind|not now|abort|leave it|forget it",
            "export": "export*|feed in|feed-in|feedin|returned|sold|production|produced|generat*|solar|pv"
        },
        "subjects": {
            "heating": "heating|heat|heater*|thermostat*|radiator*|warmer|colder|temperature|boiler|furnace|hvac|cooling|air con*|ac|zone*",
            "battery": "battery|batteries|storage|home battery",
            "car": "car|ev|vehicle|charger|wallbox|charging|charge the car",
            "appliance": "dishwasher|washing machine|washer|dryer|appliance*|pool pump",
            "light": "light|lights|lighting|lamp*"
        }
    },
    "de": {
        "vocab": {
            "energy": "energie*|strom*|*verbrauch*|verbraucht*|kwh|kilowattstunde*|genutzt|gebraucht|benötigt|*energie",
            "today": "heute*|bisher|seit mitternacht|heutig*|bis jetzt",
            "week": "woche*|*woche|letzte sieben tage|letzten sieben tagen|letzten 7 tagen|wöchentlich*",
            "month": "monat*|*monat|letzten 30 tagen|letzte 30 tage",
            "forecast": "prognos*|vorhersage*|morgen|erwart*|voraussicht*|vorausgesagt|ausblick|nächsten tag|übermorgen|*prognos*|*vorhersage*",
            "recommendation": "empfehl*|empfiehl*|empfohlen|vorschlag*|vorschläg*|vorgeschlagen|tipp*|sparen|spare|sparmöglichkeit*|*spartipp*|rat|raten|rätst|verbessern|was soll ich|was sollen wir|was kann ich tun|was können wir tun|idee*|senken|günstiger",
            "why": "warum|wieso|weshalb|grund|gründe|begründ*|erklär*|wie kommt",
            "savings": "gespart|eingespart|ersparnis*|einsparung*|verifiziert*|nachgewiesen*|gemessene*|tatsächlich gespart|bisher gespart",
            "devices": "gerät*|zähler|online|offline|erreichbar|nicht erreichbar|verfügbar|status|verbunden|sensor*|wechselrichter|wärmepumpe|alles in ordnung|alles ok|funktioniert|funktionieren|laufen",
            "autopilot": "autopilot*|automatik*|automatische steuerung|automatikbetrieb",
            "act": "stell*|dreh*|schalt*|mach*|senk*|erhöh*|reduzier*|setz*|änder*|regel*|aktivier*|deaktivier*|start*|stopp*|pausier*|lade|entlade|dimm*|einschalten|ausschalten|anschalten|abschalten|fortsetzen|regl*",
            "on": "ein|an|einschalten|anschalten|aktivier*|starte*|fortsetzen|einschaltest|anmachen",
            "off": "aus|ausschalten|abschalten|deaktivier*|stopp*|stoppe|pausier*|ausmachen|abstellen|ab",
            "apply": "anwenden|wende|wendest|umsetzen|setz sie um|setze sie um|setz das um|setze das um|setz es um|setze es um|setze die empfehlung um|ausführen|führ sie aus|führe sie aus|führ das aus|übernehm*|übernimm|durchführen|annehmen|befolgen|befolge|führe|führ|nimm",
            "top": "beste*|erste*|oberste*|wichtigste*|top|die|das|sie|es|diese*",
            "yes": "ja|jawohl|genau|gerne|gern|ok|okay|mach das|mach es|mach|bitte|klar|sicher|einverstanden|bestätig*|los|richtig|natürlich|in ordnung|passt",
            "no": "nein|nee|ne|abbrechen|abbruch|lieber nicht|nicht|lass es|lass das|vergiss es|stopp|doch nicht|auf keinen fall",
            "export": "einspeis*|export*|rückspeis*|erzeug*|produktion|solar*|pv"
        },
        "subjects": {
            "heating": "heizung*|heiz*|thermostat*|heizkörper*|wärmer|kälter|temperatur*|kessel|klima*|kühlung|*heizung|zone*",
            "battery": "batterie*|akku*|speicher*|hausbatterie*",
            "car": "auto|autos|fahrzeug*|wallbox|ladestation|e-auto|elektroauto|laden",
            "appliance": "spülmaschine*|geschirrspüler*|waschmaschine*|trockner*|gerät|poolpumpe",
            "light": "licht*|lampe*|beleuchtung*"
        }
    }
}  # fmt: skip
