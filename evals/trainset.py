"""The JARVIS training set: built from the tool registry, kept apart from the evaluation prompts.

``python -m evals.trainset`` regenerates ``evals/suites/jarvis_train.jsonl`` deterministically.
Each line is ``{"prompt": ..., "answer": ..., "tools": [...]}``; the answer has the shape the
suite's system prompt asks for: the tool id(s), a dash, then a short French confirmation.

The set never contains an evaluation prompt (compared after ``normalize``), nor a prompt that
contains a whole evaluation prompt, nor the evaluation's own entities and misspellings
(``FORBIDDEN``): the benchmark measures whether routing generalises, not whether it was memorised.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from evals.errors import JarvisError
from evals.metrics import tokens
from evals.records import Suite

DEFAULT_TRAIN_FILE = "jarvis_train.jsonl"
SEPARATOR = " — "
SEED = 20261125

# Words and phrases of the evaluation cases (their entities and their speech-recognition
# mistakes) that a training prompt must not contain, compared as whole folded words.
FORBIDDEN: tuple[str, ...] = (
    "chrome", "crom", "chromium", "paris", "tony", "pepper", "crepes", "crepe", "spotify", "spot",
    "faille", "cluteur", "statu", "mex c", "le sont", "lumino cite", "faire me", "loques", "cran",
    "rouille", "fais une capture", "18 heures", "18h", "cinq minutes", "trop fort baisse",
    "ecran est trop sombre", "n y vois rien", "le pc rame", "journaux d erreurs", "a plante",
)


@dataclass(frozen=True)
class TrainExample:
    """One training pair: a spoken request and the answer JARVIS should give."""

    prompt: str
    answer: str
    tools: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "answer": self.answer, "tools": list(self.tools)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainExample:
        return cls(prompt=str(data["prompt"]), answer=str(data["answer"]), tools=tuple(str(t) for t in data["tools"]))


def default_train_path() -> Path:
    """Return the path of the training set shipped in the package."""
    return Path(str(resources.files("evals") / "suites" / DEFAULT_TRAIN_FILE))


def normalize(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces: "Ouvre Chrome !" -> "ouvre chrome"."""
    return " ".join(tokens(text))


def compact(text: str) -> str:
    """Return ``normalize`` without spaces, so "faire me" and "fairme" compare equal."""
    return normalize(text).replace(" ", "")


def _contains_words(haystack: str, needle: str) -> bool:
    return f" {needle} " in f" {haystack} "


def evaluation_overlap(prompt: str, suite: Suite) -> str | None:
    """Return why ``prompt`` is too close to the evaluation cases, or None when it is apart."""
    norm, flat = normalize(prompt), compact(prompt)
    for case in suite.cases:
        for text in filter(None, (case.prompt, case.intended)):
            if norm == normalize(text) or flat == compact(text):
                return f"equals evaluation case {case.id}"
        if _contains_words(norm, normalize(case.prompt)):
            return f"contains the prompt of evaluation case {case.id}"
    for phrase in FORBIDDEN:
        if _contains_words(norm, normalize(phrase)):
            return f"contains the evaluation's own words '{phrase}'"
    return None


def load_examples(path: str | Path | None = None, tool_ids: Iterable[str] | None = None) -> list[TrainExample]:
    """Read a JSONL training set; raise ``JarvisError`` naming the file and line on any problem."""
    path = Path(path) if path is not None else default_train_path()
    known = set(tool_ids) if tool_ids is not None else None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise JarvisError(f"training file {path} not found: pass an existing JSONL file to --data") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JarvisError(f"training file {path} cannot be read ({exc}): check the path and that it is UTF-8") from None
    examples: list[TrainExample] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"training file {path}, line {number}"
        try:
            data = json.loads(line)
            example = TrainExample.from_dict(data)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise JarvisError(f'{where}: not a {{"prompt", "answer", "tools"}} JSON object ({exc}); fix that line') from None
        if not example.prompt.strip() or not example.answer.strip():
            raise JarvisError(f"{where}: empty prompt or answer; fill both in")
        if known is not None:
            unknown = [t for t in example.tools if t not in known]
            if unknown:
                raise JarvisError(f"{where}: unknown tool id {', '.join(unknown)}; use the ids of the suite's registry")
        examples.append(example)
    if not examples:
        raise JarvisError(f"training file {path} has no examples: add JSON lines with prompt, answer and tools")
    return examples


# ---------------------------------------------------------------------------------------
# Generation. Each tool has requests (clean, polite, terse, indirect) and misheard forms;
# slots in braces are filled from the entity lists below, none of them an evaluation entity.

APPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # (as said, as confirmed, as misheard)
    ("firefox", "Firefox", ("fire fox", "faille re fox", "fayerfox")),
    ("vlc", "VLC", ("vé elle cé", "v l c", "vlcé")),
    ("slack", "Slack", ("slaque", "slak", "sla que")),
    ("discord", "Discord", ("disse corde", "discorde", "dis corde")),
    ("steam", "Steam", ("stime", "sti me", "stim")),
    ("blender", "Blender", ("blendeur", "blinder", "blen deur")),
    ("thunderbird", "Thunderbird", ("tonneur bird", "thunder beurre", "sonder bird")),
    ("obsidian", "Obsidian", ("obsidienne", "obsi diane", "op sidian")),
    ("zoom", "Zoom", ("zoum", "zou me", "zome")),
    ("teams", "Teams", ("times", "tims", "ti ms")),
    ("gimp", "GIMP", ("guimpe", "gym p", "guimp")),
    ("libreoffice", "LibreOffice", ("libre office", "libre au fisse", "libro fisse")),
    ("vs code", "VS Code", ("vé esse code", "vis code", "v s code")),
    ("inkscape", "Inkscape", ("inc scape", "inkscap", "ink skèpe")),
    ("notion", "Notion", ("nos sion", "no tion", "nauchion")),
    ("telegram", "Telegram", ("télé gramme", "télé gram", "tele grame")),
    ("signal", "Signal", ("signale", "si gnal", "signalle")),
    ("audacity", "Audacity", ("audace city", "audassiti", "au dacity")),
    ("krita", "Krita", ("crita", "kri ta", "quita")),
    ("whatsapp", "WhatsApp", ("ouate sap", "what sap", "watsap")),
)

CITIES = ("Lyon", "Marseille", "Toulouse", "Bordeaux", "Nantes", "Lille", "Strasbourg", "Nice", "Rennes",
          "Montpellier", "Grenoble", "Brest", "Dijon", "Annecy")
WHEN = (("aujourd'hui", "aujourd'hui"), ("ce soir", "ce soir"), ("ce week-end", "ce week-end"),
        ("lundi", "lundi"), ("samedi", "samedi"), ("après-demain", "après-demain"), ("demain matin", "demain matin"),
        ("dimanche", "dimanche"))
DURATIONS = (("dix minutes", "dix minutes"), ("trois minutes", "trois minutes"), ("20 minutes", "20 minutes"),
             ("une heure", "une heure"), ("trente secondes", "trente secondes"), ("15 minutes", "15 minutes"),
             ("un quart d'heure", "un quart d'heure"), ("deux minutes", "deux minutes"), ("45 minutes", "45 minutes"),
             ("sept minutes", "sept minutes"))
CONTACTS = ("Happy", "Rhodey", "Natasha", "Bruce", "Steve", "Maman", "Julie", "Marc", "Sophie", "Karim", "Léa", "Thomas")
MESSAGES = (("je suis en retard", "je suis en retard"), ("je rentre ce soir", "je rentre ce soir"),
            ("on se voit demain", "on se voit demain"), ("c'est d'accord", "c'est d'accord"),
            ("je suis parti", "je suis parti"), ("la réunion est annulée", "la réunion est annulée"),
            ("je te rappelle plus tard", "je te rappelle plus tard"), ("merci pour hier", "merci pour hier"))
TIMES = ("7 heures", "9 heures", "midi", "14 heures", "20 heures", "21 heures 30", "8 heures", "16 heures",
         "10 heures", "minuit", "15 heures", "19 heures")
CHORES = (("appeler Julie", "appeler Julie"), ("sortir le chien", "sortir le chien"),
          ("acheter du pain", "acheter du pain"), ("prendre mes médicaments", "prendre tes médicaments"),
          ("la réunion d'équipe", "la réunion d'équipe"), ("rappeler le garagiste", "rappeler le garagiste"),
          ("arroser les plantes", "arroser les plantes"), ("payer le loyer", "payer le loyer"),
          ("envoyer le rapport", "envoyer le rapport"), ("appeler Happy", "appeler Happy"))
TOPICS = ("une recette de lasagnes", "les horaires du train pour Lyon", "le résultat du match", "le prix d'un vélo électrique",
          "la définition de photosynthèse", "un bon restaurant à Nantes", "les horaires de la piscine",
          "la population du Canada", "un tuto pour réparer un pneu", "les actualités du jour", "une recette de gaufres",
          "le programme télé de ce soir")
LOG_QUERIES = ("les erreurs 500", "les timeouts", "nginx", "les échecs de connexion", "les warnings du noyau",
               "le mot segfault", "les erreurs de la base de données", "les redémarrages")
MUSIC = (("du jazz", "du jazz"), ("ma playlist", "ta playlist"), ("du rock", "du rock"), ("sur Deezer", "sur Deezer"),
         ("du classique", "du classique"), ("de la musique calme", "de la musique calme"),
         ("les Daft Punk", "les Daft Punk"), ("la radio", "la radio"))

# Per tool: clean requests (slots allowed), indirect requests, terse ones, misheard ones, and the
# first-person confirmation (which may use the same slots).
TOOL_DATA: dict[str, dict[str, tuple[str, ...]]] = {
    "volume_up": {
        "clean": ("augmente le volume", "monte le volume", "augmente le son", "monte un peu le son", "monte bien le son",
                  "mets le son plus fort", "pousse le volume", "augmente un peu le volume", "monte le volume de la vidéo"),
        "indirect": ("j'entends rien", "le son est trop bas", "je n'entends pas la vidéo", "c'est trop faible, monte un peu",
                     "on n'entend presque rien", "plus fort s'il te plaît", "je n'entends pas bien le film"),
        "terse": ("volume plus", "plus fort", "son plus fort", "volume up", "volume à fond"),
        "misheard": ("monte le vol hume", "augmante le volume", "mont le volume", "augmente le çon", "monte le volum",
                     "oh gmente le son", "augmente le vol hume"),
        "confirm": ("je monte le son", "j'augmente le volume"),
    },
    "volume_down": {
        "clean": ("baisse le volume", "diminue le volume", "baisse un peu le volume", "baisse le son de la vidéo",
                  "diminue le son", "mets le son moins fort", "réduis le volume"),
        "indirect": ("c'est trop bruyant", "ça me casse les oreilles", "le son est trop haut", "les voisins vont râler, baisse",
                     "moins fort s'il te plaît", "c'est beaucoup trop bruyant, diminue"),
        "terse": ("moins fort", "volume moins", "volume down", "son moins fort", "un peu moins fort"),
        "misheard": ("besse le volume", "baise le volume", "diminu le volume", "bai se le volume", "baisse le vol hume",
                     "baisse le volum", "dis minue le son"),
        "confirm": ("je baisse le son", "je baisse le volume"),
    },
    "volume_mute": {
        "clean": ("coupe tout le son", "mets en sourdine", "coupe le volume", "éteins le son", "mets le son en sourdine",
                  "coupe l'audio", "couper le son"),
        "indirect": ("silence", "plus un bruit", "chut", "je suis en réunion, plus de son", "je ne veux plus rien entendre"),
        "terse": ("sourdine", "mute", "son coupé", "muet"),
        "misheard": ("coupe l'o dio", "coupe le çon", "met en sourdine", "mais en sourdine", "coupe le vol hume", "mets en sour dine",
                     "mets en sourdines"),
        "confirm": ("je coupe le son", "je mets le son en sourdine"),
    },
    "open_app": {
        "clean": ("ouvre {app}", "lance {app}", "démarre {app}", "ouvre l'application {app}", "ouvrir {app}",
                  "tu peux ouvrir {app}", "j'ai besoin de {app}, ouvre-le"),
        "indirect": ("je voudrais utiliser {app}", "j'ai besoin de {app}", "mets-moi {app}"),
        "terse": ("{app} s'il te plaît", "{app}, vite"),
        "misheard": ("ouvres {misheard}", "ouvre {misheard}", "lance {misheard}", "houvre {misheard}", "ou vre {app}",
                     "ouvrent {misheard}", "lances {misheard}"),
        "confirm": ("j'ouvre {app_name}",),
    },
    "close_window": {
        "clean": ("ferme cette fenêtre", "ferme cette fenêtre active", "ferme cette fenêtre-là", "fermer la fenêtre",
                  "ferme-moi cette fenêtre", "quitte cette fenêtre", "ferme donc la fenêtre du navigateur"),
        "indirect": ("je ne veux plus voir cette fenêtre", "dégage cette fenêtre", "enlève cette fenêtre de l'écran",
                     "cette fenêtre ne sert plus, ferme-la"),
        "terse": ("fenêtre fermée", "ferme ça", "close window", "fermeture de la fenêtre"),
        "misheard": ("fer me cette fenêtre", "ferme cette fenètre", "ferme la fenaitre", "fermes la fenêtre", "ferme cette fe nêtre",
                     "fèrme cette fenêtre", "ferme la fnêtre"),
        "confirm": ("je ferme la fenêtre",),
    },
    "cluster_status": {
        "clean": ("donne-moi l'état du cluster", "vérifie le cluster", "statut du cluster", "quel est l'état du cluster",
                  "état du cluster", "fais le point sur le cluster", "status du cluster"),
        "indirect": ("comment va le cluster", "le cluster tient le coup", "tous les nœuds du cluster répondent",
                     "est-ce que le cluster est en bonne santé", "les serveurs du cluster vont bien"),
        "terse": ("cluster status", "cluster", "santé du cluster", "état cluster"),
        "misheard": ("état du clusteur", "statut du clustre", "état du closter", "status du klaster", "statut du cluss terre",
                     "état du clus ter", "statue du cluster"),
        "confirm": ("je vérifie l'état du cluster",),
    },
    "mexc_scan": {
        "clean": ("lance un scan de mexc", "scanne le marché de mexc", "analyse mexc", "fais un scan sur mexc", "scanne le marché mexc",
                  "analyse le marché sur mexc", "scan de mexc"),
        "indirect": ("regarde les opportunités sur mexc", "il y a des bonnes affaires sur mexc", "trouve-moi des opportunités sur mexc",
                     "quoi de neuf sur l'exchange mexc"),
        "terse": ("mexc scan", "mexc", "scan sur mexc maintenant"),
        "misheard": ("scanne mexe", "analyse m e x c", "scan de mexcé", "scanne mexsi", "analyse mecs c", "scanne l'exchange mecsé",
                     "scane mexc"),
        "confirm": ("je lance le scan de MEXC",),
    },
    "log_search": {
        "clean": ("fouille les logs", "recherche dans les logs", "cherche {query} dans les logs", "fouille les logs pour {query}",
                  "recherche {query} dans les journaux", "regarde les logs système", "cherche dans les journaux"),
        "indirect": ("qu'est-ce que disent les logs", "il y a quoi dans les journaux système", "trouve {query} dans les logs",
                     "regarde dans les logs ce qui s'est passé"),
        "terse": ("logs", "log search", "logs {query}", "journaux système"),
        "misheard": ("cherche dans les logues", "fouille les logue", "recherche dans les lòg", "cherche dans les log",
                     "fouilles les logs", "cherche dans les jour no", "recherche dans les lo gues"),
        "confirm": ("je cherche {query_name} dans les logs", "je cherche dans les logs"),
    },
    "brightness_up": {
        "clean": ("augmente la luminosité", "monte la luminosité", "augmente la luminosité de l'écran", "éclaire l'écran",
                  "mets l'écran plus lumineux", "monte un peu la luminosité", "pousse la luminosité"),
        "indirect": ("c'est trop sombre", "l'affichage est trop sombre", "on ne distingue rien sur l'écran",
                     "il fait trop sombre sur l'écran, éclaire", "je plisse les yeux tellement c'est sombre"),
        "terse": ("plus de luminosité", "luminosité plus", "brightness up", "luminosité à fond"),
        "misheard": ("augmente la lumi nosité", "monte la luminausité", "augmente la luminosi thé", "monte la luminositer",
                     "augmante la luminosité", "monte la lu minosité", "augmente la lumineusité"),
        "confirm": ("j'augmente la luminosité",),
    },
    "brightness_down": {
        "clean": ("diminue la luminosité", "baisse la luminosité de l'écran", "réduis la luminosité", "baisse un peu la luminosité",
                  "assombris l'écran", "mets l'écran moins lumineux", "diminue la luminosité de l'écran"),
        "indirect": ("l'écran m'éblouit", "c'est trop lumineux", "ça me brûle les yeux, l'écran est trop clair",
                     "l'écran est bien trop clair", "j'ai mal aux yeux avec cet écran"),
        "terse": ("moins de luminosité", "luminosité moins", "brightness down", "luminosité au minimum"),
        "misheard": ("diminue la lumi nosité", "diminue la luminausité", "besse la luminosité", "baisse la luminositer",
                     "réduis la lu mi no sité", "dis minue la luminosité", "baisse la lumineusité"),
        "confirm": ("je baisse la luminosité",),
    },
    "screenshot": {
        "clean": ("prends une capture d'écran", "capture l'écran", "fais un screenshot", "prends une capture de l'écran",
                  "capture de l'écran s'il te plaît", "enregistre une capture d'écran", "fais-moi une capture de l'écran"),
        "indirect": ("prends une photo de l'écran", "garde une image de ce qu'il y a à l'écran", "immortalise l'écran"),
        "terse": ("screenshot", "capture d'écran", "capture", "une capture vite"),
        "misheard": ("prends une capture décran", "prends une capture des crans", "capt ure l'écran", "fait un screen shot",
                     "prend une capture d'écran", "prends une cap ture d'écran", "fais un scrinchotte"),
        "confirm": ("je fais une capture d'écran",),
    },
    "lock_screen": {
        "clean": ("verrouille vite l'écran", "verrouille la session", "verrouille le pc", "bloque l'ordinateur", "verrouille mon poste",
                  "verrouille tout", "mets l'écran en veille verrouillée"),
        "indirect": ("je m'absente, verrouille tout", "je pars déjeuner, bloque l'ordi", "personne ne doit toucher à l'ordi",
                     "je sors, protège la session"),
        "terse": ("verrouillage", "lock screen", "verrouille", "écran verrouillé"),
        "misheard": ("vérouille l'écran", "verouille la session", "verre ouille l'écran", "ver rouye le pc", "vérrouille le poste",
                     "verrouilles l'écran", "ver ouille la session"),
        "confirm": ("je verrouille l'écran",),
    },
    "weather": {
        "clean": ("quelle est la météo {when} à {city}", "quel temps fait-il à {city} {when}", "météo de {city} pour {when}",
                  "donne-moi les prévisions pour {city} {when}", "quel temps fera-t-il {when} à {city}"),
        "indirect": ("est-ce qu'il va pleuvoir {when} à {city}", "faut-il un parapluie à {city} {when}",
                     "il fera chaud à {city} {when}", "je dois prendre un manteau pour {city} {when}"),
        "terse": ("météo {city}", "météo {when}", "prévisions {city}"),
        "misheard": ("quel est la mété o {when} à {city}", "mais téo de {city} {when}", "quelle temps fait-il à {city} {when}",
                     "la météau {when} à {city}", "les pré visions pour {city} {when}"),
        "confirm": ("voici la météo {when_name} à {city_name}", "voici les prévisions pour {city_name} {when_name}",
                    "voici la météo à {city_name}", "voici la météo {when_name}"),
    },
    "timer_set": {
        "clean": ("lance un minuteur de {duration}", "mets un minuteur de {duration}", "règle un minuteur sur {duration}",
                  "démarre un compte à rebours de {duration}", "minuteur de {duration} s'il te plaît"),
        "indirect": ("préviens-moi quand {duration} seront passées", "les pâtes cuisent {duration}, chronomètre-les",
                     "compte {duration} pour moi", "sonne dans {duration}"),
        "terse": ("minuteur {duration}", "timer {duration}", "compte à rebours {duration}"),
        "misheard": ("lance un minuteure de {duration}", "mets un minu teur de {duration}", "lance un mini teur de {duration}",
                     "lance un minutteur de {duration}", "met un compte a rebour de {duration}"),
        "confirm": ("je lance un minuteur de {duration_name}",),
    },
    "music_play": {
        "clean": ("lance la musique", "mets de la musique", "joue de la musique", "mets {music}", "joue {music}",
                  "lance {music}", "lance la musique {music}"),
        "indirect": ("j'ai envie d'écouter {music}", "un peu d'ambiance musicale", "c'est trop calme ici, mets du son",
                     "fais-moi écouter {music}"),
        "terse": ("musique", "play music", "musique s'il te plaît", "{music} !"),
        "misheard": ("lance la musik", "mets de la mu zique", "joue de la musike", "lance la mu sique", "mets de la musiques",
                     "lances la musique {music}", "mai de la musique"),
        "confirm": ("je lance la musique", "je lance {music_name}"),
    },
    "music_pause": {
        "clean": ("pause la musique", "mets la chanson en pause", "fais une pause dans la musique", "mets pause",
                  "arrête la musique un instant", "mets la lecture en pause", "pause la chanson"),
        "indirect": ("on m'appelle, mets pause", "stop, j'ai un appel", "arrête un moment la chanson", "attends, suspends la musique"),
        "terse": ("pause", "pause music", "musique en pause", "pause musique"),
        "misheard": ("met la musique en pose", "mets la musique en pose", "pose la musique", "mets la musique empause",
                     "mais la musique en pause", "pause la mu sique", "mets la musik en pause"),
        "confirm": ("je mets la musique en pause",),
    },
    "web_search": {
        "clean": ("cherche {topic} sur internet", "recherche {topic} sur le web", "trouve-moi {topic} sur internet",
                  "fais une recherche web sur {topic}", "regarde sur internet {topic}"),
        "indirect": ("je voudrais savoir {topic}, regarde en ligne", "google {topic}", "tu peux trouver {topic} en ligne"),
        "terse": ("recherche web {topic}", "web search {topic}", "internet {topic}"),
        "misheard": ("cherche {topic} sur inter net", "cherche {topic} sur l'internet", "recherche {topic} sur le ouèbe",
                     "trouve moi {topic} sur intèrnet", "cherches {topic} sur internet"),
        "confirm": ("je cherche {topic_name} sur internet",),
    },
    "send_message": {
        "clean": ("envoie un message à {contact} pour dire que {message}", "écris à {contact} que {message}",
                  "envoie un SMS à {contact} : {message}", "dis à {contact} par SMS que {message}",
                  "préviens {contact} par message que {message}"),
        "indirect": ("fais savoir à {contact} que {message}", "écris un petit mot à {contact} : {message}",
                     "informe {contact} par texto que {message}"),
        "terse": ("message à {contact} : {message}", "SMS {contact} {message}"),
        "misheard": ("envoi un message à {contact} pour dire que {message}", "en voix un message à {contact} : {message}",
                     "écrit à {contact} que {message}", "envoie un mes sage à {contact} : {message}",
                     "envoie un massage à {contact} : {message}"),
        "confirm": ("j'envoie le message à {contact_name}",),
    },
    "system_status": {
        "clean": ("donne-moi l'état du système", "montre la charge du système", "vérifie la charge du processeur",
                  "état du système", "combien de mémoire est utilisée", "regarde l'utilisation du disque",
                  "quelle est la charge du processeur"),
        "indirect": ("pourquoi l'ordinateur est si lent", "le ventilateur tourne à fond, qu'est-ce qui se passe",
                     "mon ordi est lent, vérifie la mémoire", "il reste de la place sur le disque",
                     "qu'est-ce qui consomme toute la ram"),
        "terse": ("system status", "charge cpu", "état système", "ram et cpu"),
        "misheard": ("état du sis thème", "la charge du proce sseur", "état du systhème", "charge du processeure",
                     "état du cis tème", "montre la charge du système stp", "la charge du prosseceur"),
        "confirm": ("je vérifie l'état du système",),
    },
    "reminder_create": {
        "clean": ("rappelle-moi de {chore} à {time}", "crée un rappel pour {chore} à {time}", "mets un rappel à {time} pour {chore}",
                  "ajoute un rappel : {chore} à {time}", "programme un rappel à {time} : {chore}"),
        "indirect": ("fais-moi penser à {chore} à {time}", "n'oublie pas de me dire de {chore} à {time}",
                     "il ne faut pas que j'oublie de {chore} à {time}"),
        "terse": ("rappel {chore} {time}", "rappel à {time} : {chore}"),
        "misheard": ("rapèle moi de {chore} à {time}", "crée un rapel pour {chore} à {time}", "rappel moi de {chore} à {time}",
                     "crée un ra pelle pour {chore} à {time}", "fait moi penser à {chore} à {time}"),
        "confirm": ("je crée un rappel pour {chore_name} à {time_name}", "rappel créé : {chore_name} à {time_name}"),
    },
}

# How many requests of each register every tool gets (before polite, noisy and alias forms).
PER_TOOL = {"clean": 6, "indirect": 4, "terse": 2, "misheard": 7}
POLITE = ("{p} s'il te plaît", "jarvis, {p}", "{p} stp", "{p}, merci", "allez, {p}", "dis jarvis, {p}", "{p} rapidement")
JOINERS = (" et ", " puis ", ", et ", " et ensuite ", ", puis ")


def _slots(tool: str, rng: random.Random) -> dict[str, str]:
    """Pick one value per slot, deterministic for a given ``rng`` state."""
    app = rng.choice(APPS)
    when, city = rng.choice(WHEN), rng.choice(CITIES)
    duration, contact, message = rng.choice(DURATIONS), rng.choice(CONTACTS), rng.choice(MESSAGES)
    time, chore, topic, query, music = rng.choice(TIMES), rng.choice(CHORES), rng.choice(TOPICS), rng.choice(LOG_QUERIES), rng.choice(MUSIC)
    return {
        "app": app[0], "app_name": app[1], "misheard": rng.choice(app[2]),
        "when": when[0], "when_name": when[1], "city": city, "city_name": city,
        "duration": duration[0], "duration_name": duration[1],
        "contact": contact, "contact_name": contact, "message": message[0],
        "time": time, "time_name": time, "chore": chore[0], "chore_name": chore[1],
        "topic": topic, "topic_name": topic, "query": query, "query_name": query,
        "music": music[0], "music_name": music[1],
    }


def _bases(template: str) -> set[str]:
    """Return the entity kinds a template mentions ("{misheard}" is an app too)."""
    return {"app" if s == "misheard" else s.split("_")[0] for s in re.findall(r"{(\w+)}", template)}


def _confirm(tool: str, slots: Mapping[str, str], rng: random.Random, prompt_template: str) -> str:
    """Return a first-person confirmation naming as many of the request's entities as possible."""
    have = _bases(prompt_template)
    fitting = [o for o in TOOL_DATA[tool]["confirm"] if _bases(o) <= have]
    if not fitting:
        raise JarvisError(f"tool {tool}: no confirmation fits the request '{prompt_template}'; add one to TOOL_DATA")
    most = max(len(_bases(o)) for o in fitting)
    return rng.choice([o for o in fitting if len(_bases(o)) == most]).format(**slots)


def _answer(tools: Sequence[str], clauses: Sequence[str]) -> str:
    text = " et ".join(clauses)
    return f"{', '.join(tools)}{SEPARATOR}{text[0].upper()}{text[1:]}."


def _single(tool: str, template: str, rng: random.Random) -> TrainExample:
    slots = _slots(tool, rng)
    prompt = template.format(**slots)
    return TrainExample(prompt=prompt, answer=_answer([tool], [_confirm(tool, slots, rng, template)]), tools=(tool,))


_NOISE_SWAPS = (("é", "e"), ("è", "e"), ("ê", "e"), ("'", ""), ("'", " "), ("ss", "s"), ("mm", "m"), ("ll", "l"),
                ("au", "o"), ("qu", "k"), ("ph", "f"), ("ai", "è"))


def _noisy(prompt: str, rng: random.Random) -> str:
    """Apply one speech-recognition-like corruption: a sound-alike spelling, a split or a dropped letter."""
    words = prompt.split()
    long_words = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    choice = rng.randrange(4)
    if choice == 0:
        swaps = [s for s in _NOISE_SWAPS if s[0] in prompt]
        if swaps:
            old, new = rng.choice(swaps)
            return prompt.replace(old, new, 1)
    if choice == 1 and long_words:
        i = rng.choice(long_words)
        cut = rng.randrange(2, len(words[i]) - 2)
        words[i] = f"{words[i][:cut]} {words[i][cut:]}"
        return " ".join(words)
    if choice == 2 and long_words:
        i = rng.choice(long_words)
        j = rng.randrange(1, len(words[i]) - 1)
        words[i] = words[i][:j] + words[i][j + 1 :]
        return " ".join(words)
    if len(words) >= 2:
        i = rng.randrange(len(words) - 1)
        if len(words[i]) <= 3:
            return " ".join([*words[:i], words[i] + words[i + 1], *words[i + 2 :]])
    return prompt.replace("'", "", 1) if "'" in prompt else prompt + "s"


def _capitalised(prompt: str, rng: random.Random) -> str:
    """Vary surface form the way transcripts do: sometimes a capital, sometimes end punctuation."""
    style = rng.randrange(5)
    if style == 1:
        return prompt[0].upper() + prompt[1:]
    if style == 2:
        return prompt + (" ?" if prompt.startswith(("est", "quel", "comment", "pourquoi", "il ")) else " !")
    if style == 3:
        return prompt[0].upper() + prompt[1:] + "."
    return prompt


def generate(suite: Suite, seed: int = SEED) -> list[TrainExample]:
    """Build the training set from the registry: every tool in every register, then multi-tool requests.

    Prompts too close to the evaluation (``evaluation_overlap``) and duplicates (after
    ``normalize``) are dropped; the order is shuffled with ``seed``.
    """
    rng = random.Random(seed)
    missing = sorted(suite.tool_ids - TOOL_DATA.keys())
    if missing:
        raise JarvisError(f"no training phrasings for tool(s) {', '.join(missing)}: add them to evals/trainset.py TOOL_DATA")
    candidates: list[TrainExample] = []
    for tool in (t.id for t in suite.tools):
        data = TOOL_DATA[tool]
        # A fixed share per register keeps every tool equally taught and the set small enough
        # for the 5-minute CPU budget of `jarvis-evals train`.
        for register, k in PER_TOOL.items():
            for template in rng.sample(data[register], k=min(k, len(data[register]))):
                candidates.append(_single(tool, template, rng))
        for template in rng.sample(data["clean"], k=2):
            candidates.append(_single(tool, rng.choice(POLITE).replace("{p}", template), rng))
        for template in rng.sample((*data["clean"], *data["indirect"]), k=3):
            example = _single(tool, template, rng)
            candidates.append(TrainExample(_noisy(example.prompt, rng), example.answer, example.tools))
        # The tool's own aliases, said as requests: the registry is the vocabulary.
        if any(not _bases(o) for o in data["confirm"]):
            aliases = next(t.aliases for t in suite.tools if t.id == tool)
            for alias in rng.sample(aliases, k=min(2, len(aliases))):
                candidates.append(TrainExample(alias, _answer([tool], [_confirm(tool, {}, rng, "")]), (tool,)))
    candidates.extend(_multi(suite, rng))

    kept: list[TrainExample] = []
    seen: set[str] = set()
    for example in candidates:
        prompt = _capitalised(example.prompt, rng)
        key = compact(prompt)
        if key in seen or evaluation_overlap(prompt, suite):
            continue
        seen.add(key)
        kept.append(TrainExample(prompt, example.answer, example.tools))
    rng.shuffle(kept)
    return kept


# Pairs (and a few triples) that a person would plausibly ask in one breath.
MULTI: tuple[tuple[str, ...], ...] = (
    ("volume_down", "music_play"), ("volume_up", "music_play"), ("music_pause", "volume_mute"),
    ("cluster_status", "log_search"), ("system_status", "log_search"), ("close_window", "lock_screen"),
    ("screenshot", "send_message"), ("brightness_down", "volume_down"), ("brightness_up", "volume_up"),
    ("open_app", "music_play"), ("weather", "reminder_create"), ("mexc_scan", "cluster_status"),
    ("music_pause", "lock_screen"), ("timer_set", "music_play"), ("web_search", "open_app"),
    ("system_status", "cluster_status"), ("screenshot", "close_window"), ("volume_mute", "brightness_down"),
    ("music_play", "brightness_down"), ("log_search", "send_message"), ("weather", "music_play"),
    ("mexc_scan", "log_search"), ("open_app", "volume_up"), ("timer_set", "volume_mute"),
    ("close_window", "open_app"), ("reminder_create", "lock_screen"), ("web_search", "screenshot"),
    ("volume_down", "brightness_down", "music_play"), ("close_window", "music_pause", "lock_screen"),
    ("cluster_status", "log_search", "send_message"),
)


def _multi(suite: Suite, rng: random.Random) -> Iterator[TrainExample]:
    """Yield requests that need several tools, each joined from the tools' own phrasings."""
    for combo in MULTI:
        for _ in range(2):
            parts, clauses = [], []
            for tool in combo:
                data = TOOL_DATA[tool]
                template = rng.choice((*data["clean"], *data["clean"], *data["misheard"]))
                slots = _slots(tool, rng)
                parts.append(template.format(**slots))
                clauses.append(_confirm(tool, slots, rng, template))
            prompt = parts[0]
            for part in parts[1:]:
                prompt += rng.choice(JOINERS) + part
            yield TrainExample(prompt=prompt, answer=_answer(list(combo), clauses), tools=tuple(combo))


def write_examples(examples: Iterable[TrainExample], path: str | Path) -> Path:
    """Write the examples as JSON lines (UTF-8, accents kept)."""
    from evals.io import atomic_write_text

    text = "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in examples)
    return atomic_write_text(path, text)


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the shipped training set from the shipped suite."""
    from evals.suite import load_suite

    parser = argparse.ArgumentParser(prog="python -m evals.trainset", description=main.__doc__)
    parser.add_argument("--suite", default=None, help="suite YAML (default: the shipped jarvis.yaml)")
    parser.add_argument("--out", default=str(default_train_path()), help="JSONL file to write")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    examples = generate(load_suite(args.suite), seed=args.seed)
    write_examples(examples, args.out)
    print(f"wrote {len(examples)} examples to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
