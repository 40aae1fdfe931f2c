"""Client brand names and CSM names for the sample portfolio."""

from __future__ import annotations

import numpy as np

# Names that break naive code paths: CSV quoting, HTML escaping, file names built
# from client names, fonts without Greek or CJK glyphs, and astral-plane emoji.
HARD_NAMES = (
    'Mama\'s "Famous" Sauces',
    "Salt & Pepper Kitchenware",
    "<b>Bold</b> Streetwear",
    "Day/Night Optics",
    "Back\\Slash Skates",
    "Fox, Hound and Hare",
    "Ελληνικά Έλαια",
    "東京スポーツ用品",
    "Sunny 🌞 Bakery",
)

_ADJECTIVES = (
    "Alder", "Amber", "Apex", "Arbor", "Aurora", "Birch", "Blue Harbor", "Bright",
    "Cedar", "Cinder", "Cobalt", "Copperline", "Coral", "Crescent", "Crimson",
    "Driftwood", "Ember", "Evergreen", "Fable", "Falcon", "Fernhill", "Granite",
    "Harbor", "Highland", "Indigo", "Ironwood", "Juniper", "Keystone", "Lark",
    "Linden", "Lumen", "Maple", "Meridian", "Mistral", "Northwind", "Oakridge",
    "Opal", "Pinecrest", "Quarry", "Redwood", "Saffron", "Silverleaf", "Solstice",
    "Summit", "Tidewater", "Verdant", "Willow", "Zephyr",
)  # fmt: skip

_NOUNS = (
    "Apparel", "Audio", "Bags", "Beauty", "Bicycles", "Books", "Candles",
    "Ceramics", "Coffee", "Cosmetics", "Cycling", "Denim", "Electronics",
    "Eyewear", "Fitness", "Footwear", "Fragrance", "Furniture", "Games", "Garden",
    "Gear", "Home", "Jewellery", "Kitchen", "Knitwear", "Leather", "Lighting",
    "Luggage", "Nutrition", "Optics", "Outdoor", "Pet Supply", "Publishing",
    "Skincare", "Sports", "Tea", "Tools", "Toys", "Watches", "Wellness",
)  # fmt: skip

_SUFFIXES = ("", " Co.", " Group", " Labs", " & Co.", " Brands", " Goods", " Intl")

_CSM_FIRST = (
    "Alex", "Amara", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hiro",
    "Ines", "Jonas", "Kavya", "Liam", "Maya", "Nadia", "Omar", "Priya", "Rafael",
    "Sofia", "Tomas",
)  # fmt: skip

_CSM_LAST = (
    "Adeyemi", "Berg", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallo",
    "Hughes", "Ivanova", "Jensen", "Kowalski", "Lindqvist", "Moreno", "Nakamura",
    "Okafor", "Patel", "Quinn", "Rossi", "Schmidt", "Tanaka",
)  # fmt: skip


def client_names(n_clients: int, rng: np.random.Generator) -> np.ndarray:
    """Draw unique brand names, with the hard names placed at random positions.

    Ordinary names combine an adjective, a noun and a suffix. Past the
    combinations available, names get a numeric suffix so they stay unique.
    """
    hard = list(HARD_NAMES[: min(len(HARD_NAMES), n_clients)])
    n_plain = n_clients - len(hard)

    combinations = len(_ADJECTIVES) * len(_NOUNS) * len(_SUFFIXES)
    picks = rng.permutation(combinations)[: min(n_plain, combinations)]
    plain = []
    for pick in picks:
        adjective, rest = divmod(int(pick), len(_NOUNS) * len(_SUFFIXES))
        noun, suffix = divmod(rest, len(_SUFFIXES))
        plain.append(f"{_ADJECTIVES[adjective]} {_NOUNS[noun]}{_SUFFIXES[suffix]}")
    for extra in range(n_plain - len(plain)):
        plain.append(f"{plain[extra % len(plain)]} {extra // len(plain) + 2}")

    result = np.empty(n_clients, dtype=object)
    hard_positions = rng.choice(n_clients, size=len(hard), replace=False)
    result[hard_positions] = hard
    plain_positions = np.setdiff1d(np.arange(n_clients), hard_positions)
    result[plain_positions] = plain
    return result.astype(str)


def assign_csms(
    n_clients: int, clients_per_csm: int, rng: np.random.Generator
) -> np.ndarray:
    """Assign each client a CSM so that every CSM owns about the same number."""
    n_csms = max(1, round(n_clients / clients_per_csm))
    pool = [f"{first} {last}" for last in _CSM_LAST for first in _CSM_FIRST]
    chosen = [pool[index] for index in rng.permutation(len(pool))[:n_csms]]
    while len(chosen) < n_csms:
        chosen.append(f"{chosen[len(chosen) % len(pool)]} {len(chosen) // len(pool)}")
    owners = rng.permutation(np.arange(n_clients) % n_csms)
    return np.array(chosen)[owners]
