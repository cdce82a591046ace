"""Who clicked, from what, and from where: user agents, bots, geo and the identity hash."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import crawleruseragents
import iptocc
import ua_parser_rs
from ua_parser.loaders import load_builtins

from codeqr.kit.records import new_record

# Crawlers, link-preview fetchers and HTTP libraries, from the maintained crawler-user-agents
# list, run by ua-parser's Rust engine: it looks for the patterns' literal parts in one pass
# and tries only the patterns they point to, in linear time whatever a visitor sends
# (~1.6 µs for a browser's user agent, where one RE2 alternation of them all took ~2.2 µs).
_BOT_EXTRA = [r"(?i)^$", r"(?i)headless", r"(?i)preview", r"(?i)^mozilla/5\.0$"]


def _compile_bots() -> Any:
    patterns = [entry["pattern"] for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA]
    return ua_parser_rs.UserAgentExtractor(
        [(pattern, "bot", None, None, None, None) for pattern in patterns + _BOT_EXTRA]
    )


_BOTS = _compile_bots()


def is_bot(user_agent: str) -> bool:
    """Whether a user agent is a crawler, a link-preview fetcher or an HTTP library."""
    return _BOTS.extract(user_agent) is not None


def mobile_os(user_agent: str) -> str | None:
    """``ios`` or ``android`` for device targeting, else ``None`` (cheap substring checks)."""
    if "iPhone" in user_agent or "iPad" in user_agent or "iPod" in user_agent:
        return "ios"
    if "Android" in user_agent:
        return "android"
    return None


class Agent(NamedTuple):
    device: str
    browser: str
    browser_version: str
    os: str
    os_version: str
    engine: str


_DESKTOP_OS = frozenset(
    {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD"}
)


def _version(major: str | None, minor: str | None) -> str:
    if not major:
        return minor or ""
    return f"{major}.{minor}" if minor else major


def _device(user_agent: str, os_name: str) -> str:
    # Plain ``in`` tests in a row: the rules themselves cost ~4 µs a click, so the Python
    # around them must stay small (a generator over a tuple of hints doubled the total).
    if (
        "iPad" in user_agent
        or "Tablet" in user_agent
        or "Kindle" in user_agent
        or "Silk/" in user_agent
        or "PlayBook" in user_agent
        or ("Android" in user_agent and "Mobile" not in user_agent)
    ):
        return "Tablet"
    if "Mobi" in user_agent or "iPhone" in user_agent or "iPod" in user_agent:
        return "Mobile"
    if os_name in _DESKTOP_OS or "Mozilla/" in user_agent:
        return "Desktop"
    return "Unknown"


def _engine(user_agent: str) -> str:
    webkit = "AppleWebKit/" in user_agent
    if webkit and "Chrome/" in user_agent:
        return "Blink"
    if "Gecko/" in user_agent:
        return "Gecko"
    if webkit:
        return "WebKit"
    if "Trident/" in user_agent:
        return "Trident"
    if "Presto/" in user_agent:
        return "Presto"
    return "Unknown"


def _extractors() -> tuple[Any, Any]:
    # uap-core's rules (ua-parser's builtins) run by ua-parser's Rust engine; calling the two
    # extractors we need directly skips the device rules and the wrapper's own cache.
    ua_rules, os_rules, _ = load_builtins()
    fields = ("regex", "family", "major", "minor", "patch", "patch_minor")
    return (
        ua_parser_rs.UserAgentExtractor([tuple(getattr(r, f) for f in fields) for r in ua_rules]),
        ua_parser_rs.OSExtractor([tuple(getattr(r, f) for f in fields) for r in os_rules]),
    )


_UA_RULES, _OS_RULES = _extractors()


@lru_cache(maxsize=4096)
def parse_agent(user_agent: str) -> Agent:
    """Device, browser and OS of a user agent (uap-core rules through ua-parser)."""
    ua = _UA_RULES.extract(user_agent)
    os_ = _OS_RULES.extract(user_agent)
    os_name = os_.family[:64] if os_ else "Unknown"
    # Cut to the click_events column sizes: names and versions are copied out of the user
    # agent, and one over-long value would fail (on PostgreSQL) the whole batch it is in.
    return new_record(
        Agent,
        (
            _device(user_agent, os_name),
            ua.family[:64] if ua else "Unknown",
            _version(ua.major, ua.minor)[:32] if ua else "",
            os_name,
            _version(os_.major, os_.minor)[:32] if os_ else "",
            _engine(user_agent),
        ),
    )


CONTINENT_OF: dict[str, str] = {}


def _load_continents() -> None:
    # Country → continent from the ISO codes; a compact table is enough for analytics.
    table = {
        "AF": "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY"
        " MA MG ML MR MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA"
        " ZM ZW",
        "AS": "AE AF AM AZ BD BH BN BT CN CY GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB"
        " LK MM MN MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
        "EU": "AD AL AT AX BA BE BG BY CH CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE"
        " LI LT LU LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
        "NA": "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS"
        " MX NI PA PM PR SV SX TC TT US VC VG VI",
        "SA": "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
        "OC": "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
        "AN": "AQ BV GS HM TF",
    }
    for continent, countries in table.items():
        for country in countries.split():
            CONTINENT_OF[country] = continent


_load_continents()


class Place(NamedTuple):
    country: str = ""
    region: str = ""
    city: str = ""
    continent: str = ""


class GeoLocator:
    """Country, region and city of an address: trusted headers, then MaxMind, then iptocc."""

    def __init__(self, mmdb: Path | None = None) -> None:
        self._reader: Any = None
        if mmdb is not None:
            import maxminddb

            self._reader = maxminddb.open_database(str(mmdb))

    def locate(self, ip: str | None, header_country: str | None = None) -> Place:
        """Where ``ip`` is; ``header_country`` (from a trusted proxy) wins for the country."""
        country = region = city = ""
        if self._reader is not None and ip:
            try:
                record = self._reader.get(ip)
            except ValueError:
                record = None
            if isinstance(record, dict):
                country = (record.get("country") or {}).get("iso_code", "") or ""
                subdivisions = record.get("subdivisions") or []
                if subdivisions:
                    region = subdivisions[0].get("iso_code", "") or ""
                    if region and country:
                        region = f"{country}-{region}"
                city = ((record.get("city") or {}).get("names") or {}).get("en", "") or ""
        if not country and ip:
            try:
                country = iptocc.country_code(ip) or ""
            except ValueError:
                country = ""
        # ASCII only: "ß".upper() is "SS", and a 3-letter country fails its whole batch.
        if (
            header_country
            and len(header_country) == 2
            and header_country.isascii()
            and header_country.isalpha()
        ):
            header_country = header_country.upper()
            if header_country not in {"XX", "T1"}:
                if header_country != country:
                    region = city = ""
                country = header_country
        return new_record(Place, (country, region, city, CONTINENT_OF.get(country, "")))


def truncate_ip(ip: str | None) -> str | None:
    """IPv4 cut to its /24, IPv6 to its /48: enough for geo, not enough to name a person."""
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)


class IdentityHasher:
    """Keyed hash of (IP, user agent) whose key rotates every UTC day."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._day = -1
        self._keyed = hashlib.blake2b(digest_size=16)

    def _keyed_for(self, day: int) -> Any:
        if day != self._day:
            key = hmac.new(self._secret, f"identity:{day}".encode(), "sha256").digest()[:32]
            self._keyed = hashlib.blake2b(key=key, digest_size=16)
            self._day = day
        return self._keyed

    def __call__(self, ip: str, user_agent: str, now_ms: int | None = None) -> str:
        """A 32-hex-digit hash that identifies a visitor for one day (of ``now_ms``)."""
        day = (int(time.time()) if now_ms is None else now_ms // 1000) // 86_400
        # A copy of the hash already keyed for the day: cheaper than keying one per click.
        digest = self._keyed_for(day).copy()
        digest.update(f"{ip}\x00{user_agent}".encode(errors="replace"))
        return str(digest.hexdigest())
