"""Direct identifiers for the fictional workforce (Faker, seeded per chunk).

Names follow the worker's location (a Lisbon employee gets a Portuguese name and
a NIF, a Stockholm one a personnummer), e-mails are first.last at the company's
reserved domain with a counter for namesakes, exactly as a mail system would.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from faker import Faker

from .catalog import COMPANY_DOMAIN, LOCATIONS

_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ß": "ss", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE",
                       "đ": "d", "ı": "i"})
_NOT_LOCAL = re.compile(r"[^a-z0-9-]+")


def _ascii_local(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name.translate(_FOLD)).encode("ascii", "ignore").decode()
    return _NOT_LOCAL.sub("", folded.lower().replace(" ", "-"))


class IdentityFactory:
    """One Faker per locale, reseeded for every chunk so a chunk's identities
    depend only on (seed, chunk) and never on how many names came before."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        locales = sorted({loc.locale for loc in LOCATIONS})
        self._fakers = {loc: Faker(loc) for loc in locales}
        self._locale_order = {loc: i for i, loc in enumerate(locales)}
        self._email_counts: dict[str, int] = {}

    def reseed(self, chunk: int) -> None:
        for loc, fake in self._fakers.items():
            fake.seed_instance(self._seed * 1_000_003 + chunk * 101 + self._locale_order[loc])

    def faker(self, locale: str) -> Faker:
        return self._fakers[locale]

    def _national_id(self, fake: Faker, kind: str) -> str:
        if kind == "pt_nif":
            return str(fake.random.randint(1, 2)) + "".join(str(fake.random.randint(0, 9)) for _ in range(8))
        if kind == "ie_ppsn":
            digits = "".join(str(fake.random.randint(0, 9)) for _ in range(7))
            return digits + fake.random.choice("ABCDEFGHJKLMNPQRSTVWX") + fake.random.choice(("", "", "A", "W"))
        return getattr(fake, kind)()

    def make(self, location: np.ndarray) -> tuple[list[str], list[str], list[str], list[str]]:
        """first names, last names, e-mails, national ids for workers at `location`."""
        first, last, email, nid = [], [], [], []
        for loc_i in location.tolist():
            loc = LOCATIONS[loc_i]
            fake = self._fakers[loc.locale]
            f, l = fake.first_name(), fake.last_name()
            first.append(f)
            last.append(l)
            base = f"{_ascii_local(f)}.{_ascii_local(l)}"
            n = self._email_counts.get(base, 0) + 1
            self._email_counts[base] = n
            email.append(f"{base}{n if n > 1 else ''}@{COMPANY_DOMAIN}")
            nid.append(self._national_id(fake, loc.national_id))
        return first, last, email, nid

    def phone_number(self, locale: str) -> str:
        return self._fakers[locale].phone_number()
