"""Where a debtor is: the local timezone and region a job's calling rules are read in.

Pure. Resolution order (the first that answers wins, and the job records which):

1. an explicit column of the row (kept in the job's payload by ingestion): ``comuna``,
   ``ciudad``/``localidad``, ``región``/``provincia``, ``zona horaria``/``timezone``;
2. a landline's area code or number range (Chile: 61 Magallanes, 67 Aysén, Easter
   Island's range of 32; Chilean mobiles are not geographic and say nothing); in
   Argentina any number's area code, mobiles included (``+54 9 351 ...`` is Córdoba:
   Argentine mobiles keep the area code of the town they were issued in);
3. the batch's timezone (no region).

The region is a ``holidays`` subdivision code (``"AP"`` Arica y Parinacota, ``"NB"``
Ñuble, Argentine province letters), so regional holidays come from the same calendar as
national ones. Chile's zones: ``America/Santiago``, ``America/Punta_Arenas``
(Magallanes), ``America/Coyhaique`` (Aysén) and ``Pacific/Easter``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialer.compliance.profiles import COUNTRY_ZONES

SANTIAGO = "America/Santiago"
MAGALLANES = "America/Punta_Arenas"
AYSEN = "America/Coyhaique"
EASTER = "Pacific/Easter"
BUENOS_AIRES = "America/Argentina/Buenos_Aires"
SOURCE_MAX = 200  # jobs.place_source column size


@dataclass(frozen=True)
class Place:
    """A debtor's zone and region, and why (``source``, shown on the job)."""

    timezone: str | None  # None: the batch's timezone
    region: str | None
    source: str


# Chilean region codes (``holidays`` subdivisions) -> zone.
_REGION_ZONE = {"MA": MAGALLANES, "AI": AYSEN}

# Region names and numerals as written in portfolios -> code.
_CL_REGIONS: dict[str, str] = {
    "arica y parinacota": "AP", "arica": "AP", "xv": "AP", "15": "AP",
    "tarapaca": "TA", "i": "TA", "1": "TA",
    "antofagasta": "AN", "ii": "AN", "2": "AN",
    "atacama": "AT", "iii": "AT", "3": "AT",
    "coquimbo": "CO", "iv": "CO", "4": "CO",
    "valparaiso": "VS", "v": "VS", "5": "VS",
    "metropolitana": "RM", "metropolitana de santiago": "RM", "rm": "RM", "xiii": "RM",
    "13": "RM", "santiago": "RM",
    "ohiggins": "LI", "libertador general bernardo ohiggins": "LI", "vi": "LI", "6": "LI",
    "libertador bernardo ohiggins": "LI",
    "maule": "ML", "vii": "ML", "7": "ML",
    "nuble": "NB", "xvi": "NB", "16": "NB",
    "biobio": "BI", "bio bio": "BI", "viii": "BI", "8": "BI",
    "araucania": "AR", "la araucania": "AR", "ix": "AR", "9": "AR",
    "los rios": "LR", "xiv": "LR", "14": "LR",
    "los lagos": "LL", "x": "LL", "10": "LL",
    "aysen": "AI", "aisen": "AI", "aysen del general carlos ibanez del campo": "AI",
    "aisen del general carlos ibanez del campo": "AI", "xi": "AI", "11": "AI",
    "magallanes": "MA", "magallanes y de la antartica chilena": "MA",
    "magallanes y antartica chilena": "MA",
    "xii": "MA", "12": "MA",
}  # fmt: skip

# Communes and towns -> region code: every commune of the regions whose zone or
# holidays differ from Santiago's, and the larger cities elsewhere.
_CL_COMMUNES: dict[str, str] = {
    # Arica y Parinacota (7 June)
    "arica": "AP", "camarones": "AP", "putre": "AP", "general lagos": "AP",
    # Nuble (20 August in Chillan and Chillan Viejo)
    "bulnes": "NB", "chillan": "NB", "chillan viejo": "NB", "cobquecura": "NB",
    "coelemu": "NB", "coihueco": "NB", "el carmen": "NB", "ninhue": "NB", "niquen": "NB",
    "pemuco": "NB", "pinto": "NB", "portezuelo": "NB", "quillon": "NB", "quirihue": "NB",
    "ranquil": "NB", "san carlos": "NB", "san fabian": "NB", "san ignacio": "NB",
    "san nicolas": "NB", "treguaco": "NB", "yungay": "NB",
    # Aysen (UTC-3 all year)
    "coyhaique": "AI", "coihaique": "AI", "lago verde": "AI", "aysen": "AI", "aisen": "AI",
    "puerto aysen": "AI", "puerto aisen": "AI", "cisnes": "AI", "puerto cisnes": "AI",
    "guaitecas": "AI", "cochrane": "AI", "ohiggins": "AI", "villa ohiggins": "AI",
    "tortel": "AI", "chile chico": "AI", "rio ibanez": "AI",
    # Magallanes (UTC-3 all year)
    "punta arenas": "MA", "laguna blanca": "MA", "rio verde": "MA", "san gregorio": "MA",
    "cabo de hornos": "MA", "puerto williams": "MA", "antartica": "MA", "porvenir": "MA",
    "primavera": "MA", "timaukel": "MA", "natales": "MA", "puerto natales": "MA",
    "torres del paine": "MA",
    # elsewhere: regional capitals and large communes
    "iquique": "TA", "alto hospicio": "TA", "antofagasta": "AN", "calama": "AN",
    "tocopilla": "AN", "copiapo": "AT", "vallenar": "AT", "la serena": "CO",
    "coquimbo": "CO", "ovalle": "CO", "valparaiso": "VS", "vina del mar": "VS",
    "quilpue": "VS", "villa alemana": "VS", "san antonio": "VS", "quillota": "VS",
    "los andes": "VS", "san felipe": "VS", "isla de pascua": "VS", "hanga roa": "VS",
    "rapa nui": "VS", "santiago": "RM", "puente alto": "RM", "maipu": "RM",
    "la florida": "RM", "las condes": "RM", "providencia": "RM", "nunoa": "RM",
    "san bernardo": "RM", "penalolen": "RM", "la pintana": "RM", "quilicura": "RM",
    "pudahuel": "RM", "recoleta": "RM", "estacion central": "RM", "rancagua": "LI",
    "san fernando": "LI", "talca": "ML", "curico": "ML", "linares": "ML",
    "concepcion": "BI", "talcahuano": "BI", "los angeles": "BI", "coronel": "BI",
    "chiguayante": "BI", "san pedro de la paz": "BI", "temuco": "AR",
    "padre las casas": "AR", "angol": "AR", "villarrica": "AR", "valdivia": "LR",
    "la union": "LR", "puerto montt": "LL", "osorno": "LL", "castro": "LL",
    "ancud": "LL", "puerto varas": "LL",
}  # fmt: skip
_EASTER_COMMUNES = frozenset({"isla de pascua", "hanga roa", "rapa nui"})

# Chilean landline area codes (after +56) -> region code. Santiago is "2".
_CL_AREA_CODES: dict[str, str] = {
    "2": "RM", "32": "VS", "33": "VS", "34": "VS", "35": "VS", "41": "BI", "42": "NB",
    "43": "BI", "45": "AR", "51": "CO", "52": "AT", "53": "CO", "55": "AN", "57": "TA",
    "58": "AP", "61": "MA", "63": "LR", "64": "LL", "65": "LL", "67": "AI", "71": "ML",
    "72": "LI", "73": "ML", "75": "ML",
}  # fmt: skip
# Easter Island's landlines are in area 32 (Valparaíso region) but on the island's
# exchange: +56 32 210 0xxx and +56 32 255 xxxx.
_EASTER_PREFIXES = ("+56322100", "+5632255")

# Argentine provinces -> (holidays subdivision, zone). All of Argentina is UTC-3.
_AR_PROVINCES: dict[str, tuple[str, str]] = {
    "salta": ("A", "America/Argentina/Salta"), "buenos aires": ("B", BUENOS_AIRES),
    "provincia de buenos aires": ("B", BUENOS_AIRES), "pba": ("B", BUENOS_AIRES),
    "caba": ("C", BUENOS_AIRES), "capital federal": ("C", BUENOS_AIRES),
    "ciudad autonoma de buenos aires": ("C", BUENOS_AIRES),
    "ciudad de buenos aires": ("C", BUENOS_AIRES),
    "san luis": ("D", "America/Argentina/San_Luis"), "entre rios": ("E", BUENOS_AIRES),
    "la rioja": ("F", "America/Argentina/La_Rioja"),
    "santiago del estero": ("G", "America/Argentina/Cordoba"), "chaco": ("H", BUENOS_AIRES),
    "san juan": ("J", "America/Argentina/San_Juan"),
    "catamarca": ("K", "America/Argentina/Catamarca"), "la pampa": ("L", BUENOS_AIRES),
    "mendoza": ("M", "America/Argentina/Mendoza"), "misiones": ("N", BUENOS_AIRES),
    "formosa": ("P", BUENOS_AIRES), "neuquen": ("Q", BUENOS_AIRES),
    "rio negro": ("R", BUENOS_AIRES), "santa fe": ("S", BUENOS_AIRES),
    "tucuman": ("T", "America/Argentina/Tucuman"), "chubut": ("U", BUENOS_AIRES),
    "tierra del fuego": ("V", "America/Argentina/Ushuaia"),
    "corrientes": ("W", BUENOS_AIRES), "cordoba": ("X", "America/Argentina/Cordoba"),
    "jujuy": ("Y", "America/Argentina/Jujuy"),
    "santa cruz": ("Z", "America/Argentina/Rio_Gallegos"),
}  # fmt: skip

# Argentine area codes (after +54, and after the mobile 9) -> province (holidays
# subdivision). Longest prefix first; 11 is the Buenos Aires metropolitan area, which
# spans the City (C) and the Province (B): zone only, no region. Source: ENACOM's
# numbering plan (Plan Fundamental de Numeración Nacional), the main code of each area.
_AR_AREA_CODES: dict[str, str] = {
    # 4 digits
    "2901": "V", "2964": "V", "2902": "Z", "2966": "Z", "2962": "Z", "2954": "L",
    "2920": "R", "2944": "R", "2945": "U", "2965": "U", "2972": "Q", "3757": "N",
    "3755": "N", "3772": "W", "3773": "W", "3782": "W", "3722": "H", "3735": "H",
    "3717": "P", "3711": "P", "3821": "F", "3825": "F", "3833": "K", "3834": "K",
    "3844": "G", "3858": "G", "3868": "A", "3873": "A", "3886": "Y", "3885": "Y",
    "2657": "D", "2622": "M", "2625": "M", "2627": "M", "3492": "S",
    "3462": "S", "3471": "S", "3564": "X", "3571": "X", "3572": "X", "3543": "X",
    "3442": "E", "3446": "E", "3447": "E",
    # 3 digits
    "220": "B", "221": "B", "223": "B", "230": "B", "236": "B", "237": "B", "249": "B",
    "291": "B", "336": "B", "348": "B", "260": "M", "261": "M", "263": "M", "264": "J",
    "266": "D", "280": "U", "297": "U", "294": "R", "298": "R", "299": "Q", "341": "S",
    "342": "S", "343": "E", "345": "E", "351": "X", "353": "X", "358": "X", "362": "H",
    "364": "H", "370": "P", "376": "N", "379": "W", "380": "F", "381": "T", "383": "K",
    "385": "G", "387": "A", "388": "Y",
}  # fmt: skip
_AR_METRO_AREA = "11"
# Argentine towns as a "localidad" column names them -> province: the capitals and the
# larger cities (a province name in that column is read as the province).
_AR_TOWNS: dict[str, str] = {
    "la plata": "B", "mar del plata": "B", "bahia blanca": "B", "tandil": "B",
    "quilmes": "B", "lomas de zamora": "B", "la matanza": "B", "moron": "B",
    "lanus": "B", "avellaneda": "B", "tigre": "B",
    "moreno": "B", "san nicolas de los arroyos": "B",
    "zarate": "B", "campana": "B", "escobar": "B", "olavarria": "B", "necochea": "B",
    "pergamino": "B", "banfield": "B", "berazategui": "B",
    "florencio varela": "B", "almirante brown": "B", "tres de febrero": "B",
    "vicente lopez": "B", "san miguel": "B",
    "jose c paz": "B", "malvinas argentinas": "B", "hurlingham": "B",
    "esteban echeverria": "B", "ezeiza": "B",
    "palermo": "C", "belgrano": "C", "caballito": "C",
    "recoleta": "C", "san telmo": "C", "almagro": "C", "villa urquiza": "C",
    "rosario": "S", "rafaela": "S", "venado tuerto": "S", "reconquista": "S",
    "cordoba capital": "X", "villa maria": "X", "rio cuarto": "X", "villa carlos paz": "X",
    "san francisco": "X", "mendoza capital": "M", "godoy cruz": "M", "guaymallen": "M",
    "san rafael": "M", "maipu mendoza": "M", "parana": "E",
    "concordia": "E", "gualeguaychu": "E", "resistencia": "H",
    "presidencia roque saenz pena": "H", "posadas": "N", "obera": "N",
    "puerto iguazu": "N", "corrientes capital": "W", "goya": "W",
    "paso de los libres": "W", "san miguel de tucuman": "T", "yerba buena": "T",
    "salta capital": "A", "oran": "A", "san salvador de jujuy": "Y",
    "santiago del estero capital": "G", "la banda": "G",
    "san fernando del valle de catamarca": "K", "la rioja capital": "F",
    "san juan capital": "J", "san luis capital": "D", "villa mercedes": "D",
    "santa rosa": "L", "general pico": "L", "neuquen capital": "Q", "cutral co": "Q",
    "san martin de los andes": "Q", "viedma": "R", "san carlos de bariloche": "R",
    "bariloche": "R", "general roca": "R", "cipolletti": "R", "rawson": "U",
    "trelew": "U", "comodoro rivadavia": "U", "puerto madryn": "U", "esquel": "U",
    "rio gallegos": "Z", "caleta olivia": "Z", "el calafate": "Z", "ushuaia": "V",
    "rio grande": "V", "formosa capital": "P", "clorinda": "P",
}  # fmt: skip
_AR_ZONE_OF = {code: zone for code, zone in _AR_PROVINCES.values()}

# Payload keys (ingestion's ``extra_key`` of the header) that name a place, by the
# word they contain. Most specific first.
_KEY_WORDS: tuple[tuple[str, str], ...] = (
    ("comuna", "comuna"), ("ciudad", "ciudad"), ("localidad", "ciudad"),
    ("region", "region"), ("provincia", "region"), ("zona_horaria", "zona horaria"),
    ("huso_horario", "zona horaria"), ("timezone", "zona horaria"),
    ("time_zone", "zona horaria"),
)  # fmt: skip


def place_keys(keys: Sequence[str]) -> list[str]:
    """The payload keys among ``keys`` that ``resolve_place`` reads (ingestion resolves
    the place at upload from these columns alone)."""
    return [k for k in keys if any(word in k.lower() for word, _ in _KEY_WORDS)]


def _norm(text: object) -> str:
    s = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    s = "".join(c if c.isalnum() or c == " " else (" " if c in "-_.,/" else "") for c in s)
    words = s.split()
    # "Región de Magallanes", "XII Región", "Comuna de Arica": keep the name.
    if words and words[0] in ("region", "comuna", "provincia", "ciudad"):
        words = words[1:]
        if words and words[0] in ("de", "del"):
            words = words[1:]
    if words and words[-1] == "region":
        words = words[:-1]
    return " ".join(words)


@lru_cache(maxsize=1024)
def _zone(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
    return name


def _columns(payload: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """kind -> (payload key, value) for the place columns present in the row."""
    found: dict[str, tuple[str, str]] = {}
    for key, value in payload.items():
        if value is None or not str(value).strip() or not isinstance(key, str):
            continue
        k = key.lower()
        for word, kind in _KEY_WORDS:
            if word in k:
                found.setdefault(kind, (key, str(value).strip()))
                break
    return found


def _cl_region_zone(region: str, commune: str | None = None) -> str:
    if commune in _EASTER_COMMUNES:
        return EASTER
    return _REGION_ZONE.get(region, SANTIAGO)


def _from_columns(country: str | None, cols: dict[str, tuple[str, str]]) -> Place | None:
    region: str | None = None
    tz: str | None = None
    why: list[str] = []
    for kind in ("comuna", "ciudad", "region"):
        if kind not in cols or region is not None:
            continue
        _, value = cols[kind]
        name = _norm(value)
        if country == "AR":
            hit = _AR_PROVINCES.get(name)
            if hit is None and kind != "region":
                town = _AR_TOWNS.get(name)
                hit = (town, _AR_ZONE_OF[town]) if town else None
            if hit:
                region, tz = hit
                why.append(f"{kind} '{value}'")
            continue
        table = _CL_REGIONS if kind == "region" else _CL_COMMUNES
        code = table.get(name) or (_CL_COMMUNES.get(name) if kind == "region" else None)
        if code is None and kind != "region":
            code = _CL_REGIONS.get(name)
        if code:
            region = code
            tz = _cl_region_zone(code, name if kind != "region" else None)
            why.append(f"{kind} '{value}'")
    if "zona horaria" in cols:
        _, value = cols["zona horaria"]
        zone = _zone(value.strip())
        allowed = COUNTRY_ZONES.get(country or "")
        if zone and (allowed is None or zone in allowed):
            tz = zone
            why.append(f"zona horaria '{value}'")
    if tz is None and region is None:
        return None
    return Place(timezone=tz, region=region, source=", ".join(why)[:SOURCE_MAX])


def _from_ar_phones(phones: Sequence[str]) -> Place | None:
    for phone in phones:
        if not phone.startswith("+54"):
            continue
        national = phone[4:] if phone.startswith("+549") else phone[3:]
        for size in (4, 3):
            code = _AR_AREA_CODES.get(national[:size])
            if code:
                area = national[:size]
                return Place(
                    _AR_ZONE_OF[code], code, f"phone {phone} (area code {area}, province {code})"
                )
        if national.startswith(_AR_METRO_AREA):
            return Place(
                BUENOS_AIRES, None, f"phone {phone} (area code 11, Buenos Aires metropolitan area)"
            )
    return None


def _from_phones(country: str | None, phones: Sequence[str]) -> Place | None:
    if country == "AR":
        return _from_ar_phones(phones)
    if country not in (None, "CL"):
        return None
    for phone in phones:
        if not phone.startswith("+56") or phone.startswith("+569"):
            continue  # not Chilean, or a mobile (not geographic)
        if phone.startswith(_EASTER_PREFIXES):
            return Place(EASTER, "VS", f"phone {phone} (Easter Island number range)")
        rest = phone[3:]
        area = "2" if rest.startswith("2") else rest[:2]
        code = _CL_AREA_CODES.get(area)
        if code:
            return Place(
                _cl_region_zone(code), code, f"phone {phone} (area code {area}, region {code})"
            )
    return None


def commune_of(payload: Mapping[str, Any] | None) -> str | None:
    """The Chilean commune a row names in its ``comuna`` (else ``ciudad``) column, as a
    key of the commune table (``"chillan viejo"``); None when it names none we know.
    Decides the holidays the law gives to some communes of a region only."""
    cols = _columns(payload or {})
    for kind in ("comuna", "ciudad"):
        if kind in cols:
            name = _norm(cols[kind][1])
            if name in _CL_COMMUNES:
                return name
    return None


def resolve_place(
    *, country: str | None, payload: Mapping[str, Any] | None, phones: Sequence[str] | None
) -> Place:
    """The debtor's place from the row's columns, else its landlines, else the batch's
    timezone (``timezone=None``)."""
    cols = _columns(payload or {})
    if cols:
        place = _from_columns(country, cols)
        if place is not None:
            return place
    place = _from_phones(country, phones or ())
    if place is not None:
        return place
    return Place(timezone=None, region=None, source="batch timezone")
