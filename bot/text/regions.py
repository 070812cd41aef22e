"""Country and help-desk region names as candidates write them, mapped to one English short name."""

from __future__ import annotations

# Desk regions first: the help desk is organised by them.
DESK_REGIONS: dict[str, tuple[str, ...]] = {
    "EMEA": ("emea", "europe", "middle east"),
    "North America": ("north america", "n. america", "noram"),
    "APAC": ("apac", "asia pacific", "asia-pacific", "asia/pacific"),
    "LATAM": ("latam", "latin america", "south america"),
}

# Countries with the aliases people use. Names that are also common words or first names
# (Chad, Jordan, Georgia) are left out: a false region sends a ticket to the wrong desk.
COUNTRIES: dict[str, tuple[str, ...]] = {
    "United Kingdom": (
        "united kingdom",
        "uk",
        "u.k.",
        "england",
        "britain",
        "great britain",
        "scotland",
        "wales",
        "northern ireland",
    ),
    "United States": (
        "united states",
        "united states of america",
        "usa",
        "u.s.a.",
        "u.s.",
        "america",
    ),
    "India": ("india",),
    "Pakistan": ("pakistan",),
    "Bangladesh": ("bangladesh",),
    "Sri Lanka": ("sri lanka",),
    "Nepal": ("nepal",),
    "China": ("china", "prc", "mainland china"),
    "Hong Kong": ("hong kong",),
    "Taiwan": ("taiwan",),
    "Japan": ("japan",),
    "South Korea": ("south korea", "korea"),
    "Vietnam": ("vietnam", "viet nam"),
    "Thailand": ("thailand",),
    "Malaysia": ("malaysia",),
    "Singapore": ("singapore",),
    "Indonesia": ("indonesia",),
    "Philippines": ("philippines",),
    "Australia": ("australia",),
    "New Zealand": ("new zealand",),
    "Canada": ("canada",),
    "Mexico": ("mexico",),
    "Brazil": ("brazil", "brasil"),
    "Argentina": ("argentina",),
    "Chile": ("chile",),
    "Colombia": ("colombia",),
    "Peru": ("peru",),
    "Venezuela": ("venezuela",),
    "Germany": ("germany", "deutschland"),
    "France": ("france",),
    "Spain": ("spain",),
    "Portugal": ("portugal",),
    "Italy": ("italy",),
    "Netherlands": ("netherlands", "holland"),
    "Belgium": ("belgium",),
    "Switzerland": ("switzerland",),
    "Austria": ("austria",),
    "Ireland": ("ireland", "republic of ireland"),
    "Sweden": ("sweden",),
    "Norway": ("norway",),
    "Denmark": ("denmark",),
    "Finland": ("finland",),
    "Poland": ("poland",),
    "Czechia": ("czechia", "czech republic"),
    "Hungary": ("hungary",),
    "Romania": ("romania",),
    "Bulgaria": ("bulgaria",),
    "Greece": ("greece",),
    "Ukraine": ("ukraine",),
    "Russia": ("russia", "russian federation"),
    "Belarus": ("belarus",),
    "Turkey": ("turkey", "türkiye", "turkiye"),
    "Israel": ("israel",),
    "Iran": ("iran",),
    "Iraq": ("iraq",),
    "Syria": ("syria",),
    "Saudi Arabia": ("saudi arabia", "ksa"),
    "United Arab Emirates": ("united arab emirates", "uae", "dubai"),
    "Qatar": ("qatar",),
    "Egypt": ("egypt",),
    "Morocco": ("morocco",),
    "Nigeria": ("nigeria",),
    "Ghana": ("ghana",),
    "Kenya": ("kenya",),
    "South Africa": ("south africa",),
    "Cuba": ("cuba",),
    "North Korea": ("north korea", "dprk"),
}


def alias_table() -> dict[str, str]:
    """Lower-case alias -> canonical name, countries and desk regions together."""
    table: dict[str, str] = {}
    for name, aliases in (*DESK_REGIONS.items(), *COUNTRIES.items()):
        for alias in (name.lower(), *aliases):
            table[alias] = name
    return table
