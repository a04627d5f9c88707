"""Shipping quote domain: parcel weights, destination zones and per-kilogram rate cards.

Pure Python on purpose (no AWS, no Chalice) so the pricing rules that decide what a customer pays for
shipping can be unit tested in isolation and reused by a real courier aggregator adapter later.
Money is always whole Rupiah as ``int``; floats never touch a price.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from chalicelib import validation
from chalicelib.validation import conform

# ---------------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------------


class EmptyParcel(ValueError):
    """Raised when asked to quote a parcel with no items: there is nothing to weigh, so no honest price."""


class UnknownDestination(ValueError):
    """Raised when a province is not one of Indonesia's 38, so no zone (and hence no price) can be derived."""


# ---------------------------------------------------------------------------------------------------------------------
# Courier names
# ---------------------------------------------------------------------------------------------------------------------

# Aggregator courier codes (Biteship's, which RajaOngkir shares) -> the names shoppers see on the rate card.
COURIER_NAMES: Mapping[str, str] = {"jne": "JNE", "jnt": "J&T", "sicepat": "SiCepat", "anteraja": "AnterAja"}
_CODE_ALIASES: Mapping[str, str] = {"j&t": "jnt", "j&t express": "jnt", "jnt express": "jnt", "anter aja": "anteraja"}


def courier_code(name: str) -> str:
    """Aggregator code for a courier name in any common spelling ("J&T" -> "jnt"); unknown names are lower-cased."""
    key = name.strip().casefold()
    return _CODE_ALIASES.get(key, key)


def courier_name(code: str) -> str:
    """Display name for an aggregator code ("jnt" -> "J&T"), falling back to the code in upper case."""
    key = courier_code(code)
    return COURIER_NAMES.get(key, code.strip().upper())


# ---------------------------------------------------------------------------------------------------------------------
# Value objects
# ---------------------------------------------------------------------------------------------------------------------


def _require_int(name: str, value: object, *, minimum: int) -> None:
    # bool is a subclass of int but is never a meaningful weight, count or price.
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")


@dataclass(frozen=True)
class ParcelItem:
    """One order line as the courier sees it; dimensions are optional because most small goods are billed by weight."""

    name: str
    weight_grams: int
    quantity: int
    value: int  # unit price in whole Rupiah (used for the COD limit)
    length_cm: int | None = None
    width_cm: int | None = None
    height_cm: int | None = None

    def __post_init__(self) -> None:
        _require_text("name", self.name)
        _require_int("weight_grams", self.weight_grams, minimum=0)
        _require_int("quantity", self.quantity, minimum=1)
        _require_int("value", self.value, minimum=0)
        for dim in ("length_cm", "width_cm", "height_cm"):
            size = getattr(self, dim)
            if size is not None:
                _require_int(dim, size, minimum=1)

    @property
    def has_dimensions(self) -> bool:
        """Only fully measured items can be weighed volumetrically; a partial measurement is treated as none."""
        return self.length_cm is not None and self.width_cm is not None and self.height_cm is not None


@dataclass(frozen=True)
class Destination:
    """Where the parcel goes; the province decides the zone, the city only matters for same-city delivery."""

    postal_code: str
    city: str
    province: str

    def __post_init__(self) -> None:
        # The rules checkout and courier booking share, so a destination that can be quoted can be booked.
        object.__setattr__(self, "postal_code", conform("postal_code", validation.postal_code, self.postal_code))
        object.__setattr__(self, "city", conform("city", validation.city, self.city))
        object.__setattr__(self, "province", conform("province", validation.province, self.province))


@dataclass(frozen=True)
class ShippingService:
    """One priced option offered to the customer at checkout."""

    courier: str
    service: str
    price: int  # whole Rupiah for the whole parcel
    etd_days: str  # estimated days in transit as couriers publish it, e.g. "2-3"
    cod_available: bool

    def __post_init__(self) -> None:
        _require_int("price", self.price, minimum=0)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready shape for the API response."""
        return {
            "courier": self.courier,
            "service": self.service,
            "price": self.price,
            "etd_days": self.etd_days,
            "cod_available": self.cod_available,
        }


# ---------------------------------------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------------------------------------

VOLUMETRIC_DIVISOR_CM3_PER_KG = 6000  # Indonesian couriers: L x W x H (cm) / 6000 = kg
DEFAULT_TOLERANCE_GRAMS = 300  # JNE-style: up to 0.3 kg above a whole kilogram is not billed


def actual_weight_grams(items: Iterable[ParcelItem]) -> int:
    """Scale weight of all units together."""
    return sum(item.weight_grams * item.quantity for item in items)


def volumetric_weight_grams(items: Iterable[ParcelItem]) -> int:
    """Space a parcel takes in the van, expressed as grams (L*W*H/6 per unit), rounded up to a whole gram.

    Items without all three dimensions contribute nothing, so an unmeasured catalogue never inflates a price.
    """
    volume_cm3 = 0
    for item in items:
        if item.length_cm is not None and item.width_cm is not None and item.height_cm is not None:
            volume_cm3 += item.length_cm * item.width_cm * item.height_cm * item.quantity
    grams_per_kg = 1000
    return -(-volume_cm3 * grams_per_kg // VOLUMETRIC_DIVISOR_CM3_PER_KG)  # ceiling division, ints only


def chargeable_weight_grams(items: Sequence[ParcelItem]) -> int:
    """Couriers bill whichever is larger, so a light but bulky rattan basket costs what its box occupies."""
    return max(actual_weight_grams(items), volumetric_weight_grams(items))


def billable_kg(grams: int, tolerance_grams: int = DEFAULT_TOLERANCE_GRAMS) -> int:
    """Whole kilograms a courier bills: rounded up, minimum 1, but a remainder <= tolerance is rounded down.

    With the default 300 g tolerance: 0 g -> 1, 1300 g -> 1, 1301 g -> 2, 2000 g -> 2.
    """
    _require_int("grams", grams, minimum=0)
    _require_int("tolerance_grams", tolerance_grams, minimum=0)
    if tolerance_grams >= 1000:
        raise ValueError(f"tolerance_grams must be below 1000, got {tolerance_grams}")
    whole_kg, remainder = divmod(grams, 1000)
    if remainder > tolerance_grams:
        whole_kg += 1
    return max(whole_kg, 1)


# ---------------------------------------------------------------------------------------------------------------------
# Zones
# ---------------------------------------------------------------------------------------------------------------------

SAME_CITY = "same_city"
SAME_PROVINCE = "same_province"
JAVA_BALI = "java_bali"
SUMATRA_NUSA = "sumatra_nusa"
KALIMANTAN_SULAWESI = "kalimantan_sulawesi"
MALUKU_PAPUA = "maluku_papua"
ZONES: tuple[str, ...] = (SAME_CITY, SAME_PROVINCE, JAVA_BALI, SUMATRA_NUSA, KALIMANTAN_SULAWESI, MALUKU_PAPUA)

# Canonical province name -> (region zone, accepted variants). Variants are compared after _normalise(), and the
# canonical name itself is always accepted. All 38 provinces as of the 2022 Papua split.
_PROVINCES: dict[str, tuple[str, tuple[str, ...]]] = {
    # Sumatra
    "Aceh": (SUMATRA_NUSA, ("nanggroe aceh darussalam", "nad", "di aceh")),
    "Sumatera Utara": (SUMATRA_NUSA, ("sumut", "north sumatera")),
    "Sumatera Barat": (SUMATRA_NUSA, ("sumbar", "west sumatera")),
    "Riau": (SUMATRA_NUSA, ()),
    "Kepulauan Riau": (SUMATRA_NUSA, ("kepri", "riau islands")),
    "Jambi": (SUMATRA_NUSA, ()),
    "Bengkulu": (SUMATRA_NUSA, ()),
    "Sumatera Selatan": (SUMATRA_NUSA, ("sumsel", "south sumatera")),
    "Kepulauan Bangka Belitung": (SUMATRA_NUSA, ("bangka belitung", "babel", "bangka belitung islands")),
    "Lampung": (SUMATRA_NUSA, ()),
    # Java
    "Banten": (JAVA_BALI, ()),
    "DKI Jakarta": (JAVA_BALI, ("jakarta", "dki", "daerah khusus ibukota jakarta", "daerah khusus jakarta")),
    "Jawa Barat": (JAVA_BALI, ("jabar", "west java")),
    "Jawa Tengah": (JAVA_BALI, ("jateng", "central java")),
    "DI Yogyakarta": (
        JAVA_BALI,
        ("yogyakarta", "diy", "daerah istimewa yogyakarta", "jogja", "jogjakarta", "special region of yogyakarta"),
    ),
    "Jawa Timur": (JAVA_BALI, ("jatim", "east java")),
    # Bali and Nusa Tenggara
    "Bali": (JAVA_BALI, ()),
    "Nusa Tenggara Barat": (SUMATRA_NUSA, ("ntb", "west nusa tenggara")),
    "Nusa Tenggara Timur": (SUMATRA_NUSA, ("ntt", "east nusa tenggara")),
    # Kalimantan
    "Kalimantan Barat": (KALIMANTAN_SULAWESI, ("kalbar", "west kalimantan")),
    "Kalimantan Tengah": (KALIMANTAN_SULAWESI, ("kalteng", "central kalimantan")),
    "Kalimantan Selatan": (KALIMANTAN_SULAWESI, ("kalsel", "south kalimantan")),
    "Kalimantan Timur": (KALIMANTAN_SULAWESI, ("kaltim", "east kalimantan")),
    "Kalimantan Utara": (KALIMANTAN_SULAWESI, ("kaltara", "north kalimantan")),
    # Sulawesi
    "Sulawesi Utara": (KALIMANTAN_SULAWESI, ("sulut", "north sulawesi")),
    "Gorontalo": (KALIMANTAN_SULAWESI, ()),
    "Sulawesi Tengah": (KALIMANTAN_SULAWESI, ("sulteng", "central sulawesi")),
    "Sulawesi Barat": (KALIMANTAN_SULAWESI, ("sulbar", "west sulawesi")),
    "Sulawesi Selatan": (KALIMANTAN_SULAWESI, ("sulsel", "south sulawesi")),
    "Sulawesi Tenggara": (KALIMANTAN_SULAWESI, ("sultra", "southeast sulawesi")),
    # Maluku and Papua
    "Maluku": (MALUKU_PAPUA, ()),
    "Maluku Utara": (MALUKU_PAPUA, ("malut", "north maluku")),
    "Papua": (MALUKU_PAPUA, ()),
    "Papua Barat": (MALUKU_PAPUA, ("west papua", "irian jaya barat")),
    "Papua Selatan": (MALUKU_PAPUA, ("south papua",)),
    "Papua Tengah": (MALUKU_PAPUA, ("central papua",)),
    "Papua Pegunungan": (MALUKU_PAPUA, ("highland papua", "papua highlands")),
    "Papua Barat Daya": (MALUKU_PAPUA, ("southwest papua",)),
}

PROVINCES: tuple[str, ...] = tuple(_PROVINCES)


def _normalise(name: str) -> str:
    """Lower-case, drop dots ("D.I." -> "di"), unify separators and the Sumatra/Sumatera spelling."""
    text = name.casefold().replace(".", "")
    text = re.sub(r"[\s\-_,]+", " ", text).strip()
    text = re.sub(r"^provinsi ", "", text)
    return re.sub(r"\bsumatra\b", "sumatera", text)


_ALIASES: dict[str, str] = {}
for _canonical, (_region, _variants) in _PROVINCES.items():
    for _variant in (_canonical, *_variants):
        _ALIASES[_normalise(_variant)] = _canonical


def canonical_province(province: str) -> str:
    """Official province name for any accepted spelling, so "Jakarta", "DKI Jakarta" and "dki" compare equal."""
    canonical = _ALIASES.get(_normalise(province)) if isinstance(province, str) else None
    if canonical is None:
        raise UnknownDestination(f"unknown province: {province!r}")
    return canonical


def region_for(province: str) -> str:
    """Long-haul zone of a province (java_bali, sumatra_nusa, kalimantan_sulawesi or maluku_papua)."""
    return _PROVINCES[canonical_province(province)][0]


def _normalise_city(city: str) -> str:
    # "Kota Yogyakarta" and "Yogyakarta" are the same delivery area; a Kabupaten of the same name is not.
    return re.sub(r"^kota (administrasi |adm )?", "", _normalise(city))


def zone_for(origin_city: str, origin_province: str, destination: Destination) -> str:
    """Price zone from the shop to a destination: same city, same province, else the destination's region.

    Raises UnknownDestination if either province is not recognised.
    """
    origin = canonical_province(origin_province)
    target = canonical_province(destination.province)
    if origin == target:
        if _normalise_city(origin_city) == _normalise_city(destination.city):
            return SAME_CITY
        return SAME_PROVINCE
    return _PROVINCES[target][0]


# ---------------------------------------------------------------------------------------------------------------------
# Rate cards
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceRate:
    """Published tariff of one courier service; a zone absent from price_per_kg means the service is not offered."""

    courier: str
    service: str
    price_per_kg: Mapping[str, int]
    etd_days: Mapping[str, str]
    cod_available: bool
    max_cod_value: int = 0  # largest order value (whole Rupiah) the courier will collect on delivery
    tolerance_grams: int = DEFAULT_TOLERANCE_GRAMS

    def __post_init__(self) -> None:
        _require_text("courier", self.courier)
        _require_text("service", self.service)
        for zone, price in self.price_per_kg.items():
            if zone not in ZONES:
                raise ValueError(f"{self.courier} {self.service}: unknown zone {zone!r}")
            _require_int(f"{self.courier} {self.service} price_per_kg[{zone}]", price, minimum=1)
        if set(self.etd_days) != set(self.price_per_kg):
            raise ValueError(f"{self.courier} {self.service}: etd_days must cover exactly the priced zones")
        _require_int("max_cod_value", self.max_cod_value, minimum=0)
        # Read-only views so a shared default rate card cannot be mutated by a caller.
        object.__setattr__(self, "price_per_kg", MappingProxyType(dict(self.price_per_kg)))
        object.__setattr__(self, "etd_days", MappingProxyType(dict(self.etd_days)))

    def serves(self, zone: str) -> bool:
        return zone in self.price_per_kg

    def allows_cod(self, order_value: int) -> bool:
        """COD only if the service offers it and the courier is willing to carry that much cash."""
        return self.cod_available and order_value <= self.max_cod_value


@dataclass(frozen=True)
class RateCard:
    """All services a shop can ship with, from one origin; swapping the card changes prices without code changes."""

    name: str
    services: tuple[ServiceRate, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "services", tuple(self.services))
        keys = [(s.courier.casefold(), s.service.casefold()) for s in self.services]
        if len(keys) != len(set(keys)):
            raise ValueError(f"rate card {self.name!r} lists a courier service twice")

    def get(self, courier: str, service: str) -> ServiceRate | None:
        """Case-insensitive lookup of one service's tariff."""
        key = (courier.strip().casefold(), service.strip().casefold())
        for rate in self.services:
            if (rate.courier.casefold(), rate.service.casefold()) == key:
                return rate
        return None


_COD_LIMIT = 5_000_000

# Indicative 2026 public tariffs per kilogram from Yogyakarta, rounded to the nearest Rp 500.
DEFAULT_RATE_CARD = RateCard(
    name="yogyakarta-2026",
    services=(
        ServiceRate(
            courier="JNE",
            service="REG",
            price_per_kg={
                SAME_CITY: 9_000,
                SAME_PROVINCE: 11_000,
                JAVA_BALI: 20_000,
                SUMATRA_NUSA: 38_000,
                KALIMANTAN_SULAWESI: 48_000,
                MALUKU_PAPUA: 95_000,
            },
            etd_days={
                SAME_CITY: "1-2",
                SAME_PROVINCE: "1-2",
                JAVA_BALI: "2-3",
                SUMATRA_NUSA: "3-5",
                KALIMANTAN_SULAWESI: "3-6",
                MALUKU_PAPUA: "5-9",
            },
            cod_available=True,
            max_cod_value=_COD_LIMIT,
        ),
        ServiceRate(
            courier="JNE",
            service="YES",
            price_per_kg={
                SAME_CITY: 15_500,
                SAME_PROVINCE: 19_000,
                JAVA_BALI: 34_000,
                SUMATRA_NUSA: 65_000,
                KALIMANTAN_SULAWESI: 82_000,
            },
            etd_days={
                SAME_CITY: "1",
                SAME_PROVINCE: "1",
                JAVA_BALI: "1",
                SUMATRA_NUSA: "1-2",
                KALIMANTAN_SULAWESI: "1-2",
            },
            cod_available=False,
        ),
        ServiceRate(
            courier="J&T",
            service="EZ",
            price_per_kg={
                SAME_CITY: 8_000,
                SAME_PROVINCE: 10_000,
                JAVA_BALI: 19_000,
                SUMATRA_NUSA: 36_000,
                KALIMANTAN_SULAWESI: 46_000,
                MALUKU_PAPUA: 92_000,
            },
            etd_days={
                SAME_CITY: "1-2",
                SAME_PROVINCE: "1-2",
                JAVA_BALI: "2-4",
                SUMATRA_NUSA: "3-6",
                KALIMANTAN_SULAWESI: "4-7",
                MALUKU_PAPUA: "6-10",
            },
            cod_available=True,
            max_cod_value=3_000_000,
        ),
        ServiceRate(
            courier="SiCepat",
            service="REG",
            price_per_kg={
                SAME_CITY: 8_500,
                SAME_PROVINCE: 10_500,
                JAVA_BALI: 18_000,
                SUMATRA_NUSA: 35_000,
                KALIMANTAN_SULAWESI: 45_000,
                MALUKU_PAPUA: 90_000,
            },
            etd_days={
                SAME_CITY: "1-2",
                SAME_PROVINCE: "1-2",
                JAVA_BALI: "2-3",
                SUMATRA_NUSA: "3-5",
                KALIMANTAN_SULAWESI: "4-6",
                MALUKU_PAPUA: "6-9",
            },
            cod_available=True,
            max_cod_value=_COD_LIMIT,
        ),
        ServiceRate(
            courier="SiCepat",
            service="BEST",
            price_per_kg={
                SAME_CITY: 14_000,
                SAME_PROVINCE: 17_000,
                JAVA_BALI: 30_000,
                SUMATRA_NUSA: 58_000,
                KALIMANTAN_SULAWESI: 75_000,
            },
            etd_days={
                SAME_CITY: "1",
                SAME_PROVINCE: "1",
                JAVA_BALI: "1",
                SUMATRA_NUSA: "1-2",
                KALIMANTAN_SULAWESI: "1-2",
            },
            cod_available=False,
        ),
        ServiceRate(
            courier="AnterAja",
            service="REG",
            price_per_kg={
                SAME_CITY: 8_000,
                SAME_PROVINCE: 10_000,
                JAVA_BALI: 19_000,
                SUMATRA_NUSA: 37_000,
                KALIMANTAN_SULAWESI: 47_000,
            },
            etd_days={
                SAME_CITY: "1-2",
                SAME_PROVINCE: "1-2",
                JAVA_BALI: "2-4",
                SUMATRA_NUSA: "3-6",
                KALIMANTAN_SULAWESI: "4-7",
            },
            cod_available=True,
            max_cod_value=3_000_000,
        ),
    ),
)


# ---------------------------------------------------------------------------------------------------------------------
# Quoting
# ---------------------------------------------------------------------------------------------------------------------


def order_value_of(items: Iterable[ParcelItem]) -> int:
    """Goods value of the parcel (unit value x quantity), the amount a COD courier would collect."""
    return sum(item.value * item.quantity for item in items)


def quote(
    items: Sequence[ParcelItem],
    destination: Destination,
    *,
    origin_city: str,
    origin_province: str,
    rate_card: RateCard = DEFAULT_RATE_CARD,
    order_value: int | None = None,
) -> list[ShippingService]:
    """Every service on the card that serves the destination's zone, cheapest first (ties broken by courier name).

    Raises EmptyParcel for no items and UnknownDestination for an unrecognised province.
    """
    items = list(items)
    if not items:
        raise EmptyParcel("cannot quote shipping for a parcel with no items")
    value = order_value_of(items) if order_value is None else order_value
    _require_int("order_value", value, minimum=0)
    zone = zone_for(origin_city, origin_province, destination)
    chargeable = chargeable_weight_grams(items)

    offers = [
        ShippingService(
            courier=rate.courier,
            service=rate.service,
            price=rate.price_per_kg[zone] * billable_kg(chargeable, rate.tolerance_grams),
            etd_days=rate.etd_days[zone],
            cod_available=rate.allows_cod(value),
        )
        for rate in rate_card.services
        if rate.serves(zone)
    ]
    offers.sort(key=lambda s: (s.price, s.courier.casefold(), s.service.casefold()))
    return offers
