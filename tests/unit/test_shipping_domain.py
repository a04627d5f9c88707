"""Unit tests for the pure shipping quote domain (weights, zones, rate cards, quoting)."""

from __future__ import annotations

from typing import TypedDict

import pytest

from chalicelib.shipping.couriers import Courier, RateCardCourier, find_service
from chalicelib.shipping.domain import (
    DEFAULT_RATE_CARD,
    PROVINCES,
    Destination,
    EmptyParcel,
    ParcelItem,
    RateCard,
    ServiceRate,
    ShippingService,
    UnknownDestination,
    actual_weight_grams,
    billable_kg,
    chargeable_weight_grams,
    quote,
    region_for,
    volumetric_weight_grams,
    zone_for,
)


class Origin(TypedDict):
    origin_city: str
    origin_province: str


ORIGIN: Origin = {"origin_city": "Yogyakarta", "origin_province": "DI Yogyakarta"}

BATIK = ParcelItem(name="Kain batik tulis", weight_grams=300, quantity=2, value=450_000)
BASKET = ParcelItem(
    name="Keranjang rotan", weight_grams=800, quantity=1, value=175_000, length_cm=40, width_cm=40, height_cm=30
)

SURABAYA = Destination(postal_code="60111", city="Surabaya", province="Jawa Timur")
JAYAPURA = Destination(postal_code="99111", city="Jayapura", province="Papua")


def _names(services: list[ShippingService]) -> set[tuple[str, str]]:
    return {(s.courier, s.service) for s in services}


# --- weights ----------------------------------------------------------------------------------------------------------


def test_volumetric_weight_beats_actual_weight_for_a_bulky_light_rattan_basket() -> None:
    # GIVEN a rattan basket of 40x40x30 cm that weighs only 800 g
    items = [BASKET]
    # WHEN its weights are computed
    actual = actual_weight_grams(items)
    volumetric = volumetric_weight_grams(items)
    chargeable = chargeable_weight_grams(items)
    # THEN the volumetric weight (48000 cm3 / 6) is 8000 g and that is what gets charged
    assert actual == 800
    assert volumetric == 8000
    assert chargeable == 8000


def test_actual_weight_beats_volumetric_for_a_small_heavy_item() -> None:
    # GIVEN a compact but heavy stone carving, 10x10x10 cm (about 167 g volumetric) weighing 2 kg
    carving = ParcelItem(
        name="Arca batu", weight_grams=2000, quantity=1, value=600_000, length_cm=10, width_cm=10, height_cm=10
    )
    # WHEN the chargeable weight is computed
    # THEN the scale weight wins
    assert chargeable_weight_grams([carving]) == 2000


def test_weights_multiply_by_quantity_and_unmeasured_items_add_no_volume() -> None:
    # GIVEN two baskets and two batik cloths without dimensions
    items = [ParcelItem(**{**BASKET.__dict__, "quantity": 2}), BATIK]
    # WHEN the weights are computed
    # THEN every unit counts for actual weight, but only measured units add volume
    assert actual_weight_grams(items) == 2 * 800 + 2 * 300
    assert volumetric_weight_grams(items) == 16000
    assert volumetric_weight_grams([BATIK]) == 0


def test_item_with_partial_dimensions_contributes_no_volumetric_weight() -> None:
    # GIVEN an item with only length and width known
    item = ParcelItem(name="Tikar pandan", weight_grams=500, quantity=1, value=90_000, length_cm=100, width_cm=80)
    # WHEN its volumetric weight is computed
    # THEN it is zero, so a missing measurement never inflates the price
    assert volumetric_weight_grams([item]) == 0


def test_volumetric_weight_rounds_up_to_a_whole_gram() -> None:
    # GIVEN a 1x1x1 cm box (1/6 g volumetric)
    item = ParcelItem(
        name="Cincin perak", weight_grams=0, quantity=1, value=250_000, length_cm=1, width_cm=1, height_cm=1
    )
    # WHEN / THEN the fraction is rounded up, staying an int
    assert volumetric_weight_grams([item]) == 1


@pytest.mark.parametrize(
    ("grams", "expected_kg"),
    [
        (0, 1),
        (1, 1),
        (999, 1),
        (1000, 1),
        (1300, 1),
        (1301, 2),
        (2000, 2),
        (2300, 2),
        (2301, 3),
        (8000, 8),
    ],
)
def test_billable_kg_rounds_up_but_forgives_up_to_300_grams_above_a_whole_kg(grams: int, expected_kg: int) -> None:
    # GIVEN a chargeable weight in grams
    # WHEN it is converted to billable kilograms with the default JNE-style tolerance
    # THEN remainders of at most 300 g are rounded down, anything more up, and the minimum is 1 kg
    assert billable_kg(grams) == expected_kg


def test_billable_kg_tolerance_is_configurable() -> None:
    # GIVEN a courier without tolerance
    # WHEN 1001 g is billed
    # THEN any remainder costs another kilogram; with a 500 g tolerance 1500 g stays at 1 kg
    assert billable_kg(1001, tolerance_grams=0) == 2
    assert billable_kg(1500, tolerance_grams=500) == 1
    assert billable_kg(1501, tolerance_grams=500) == 2


def test_billable_kg_rejects_negative_weight_and_silly_tolerance() -> None:
    # GIVEN impossible inputs WHEN billed THEN a ValueError is raised rather than a wrong price
    with pytest.raises(ValueError):
        billable_kg(-1)
    with pytest.raises(ValueError):
        billable_kg(1000, tolerance_grams=1000)


def test_parcel_item_refuses_float_money() -> None:
    # GIVEN a unit value as a float WHEN the item is built THEN it is refused: money is whole Rupiah ints
    with pytest.raises(TypeError):
        ParcelItem(name="Wayang kulit", weight_grams=400, quantity=1, value=350_000.5)  # type: ignore[arg-type]


# --- zones ------------------------------------------------------------------------------------------------------------


def test_rate_card_province_table_covers_all_38_provinces() -> None:
    # GIVEN the province table WHEN counted THEN all 38 provinces, from Aceh to Papua Barat Daya, are present
    assert len(PROVINCES) == 38
    assert "Aceh" in PROVINCES
    assert "Papua Barat Daya" in PROVINCES


@pytest.mark.parametrize(
    ("city", "province", "expected"),
    [
        ("Yogyakarta", "DI Yogyakarta", "same_city"),
        ("Kota Yogyakarta", "D.I. Yogyakarta", "same_city"),
        ("YOGYAKARTA", "diy", "same_city"),
        ("Sleman", "Yogyakarta", "same_province"),
        ("Bantul", "Daerah Istimewa Yogyakarta", "same_province"),
        ("Jakarta Selatan", "DKI Jakarta", "java_bali"),
        ("Jakarta Pusat", "Jakarta", "java_bali"),
        ("Bandung", "West Java", "java_bali"),
        ("Denpasar", "Bali", "java_bali"),
        ("Medan", "Sumatera Utara", "sumatra_nusa"),
        ("Padang", "sumatra barat", "sumatra_nusa"),
        ("Banda Aceh", "Aceh", "sumatra_nusa"),
        ("Mataram", "NTB", "sumatra_nusa"),
        ("Kupang", "Nusa Tenggara Timur", "sumatra_nusa"),
        ("Balikpapan", "Kalimantan Timur", "kalimantan_sulawesi"),
        ("Makassar", "sulawesi selatan", "kalimantan_sulawesi"),
        ("Ambon", "Maluku", "maluku_papua"),
        ("Sorong", "Papua Barat Daya", "maluku_papua"),
        ("Merauke", "Papua Selatan", "maluku_papua"),
    ],
)
def test_zone_is_detected_from_province_and_city_regardless_of_spelling(
    city: str, province: str, expected: str
) -> None:
    # GIVEN a shop in Yogyakarta and a destination written the way customers write it
    destination = Destination(postal_code="12345", city=city, province=province)
    # WHEN the zone is derived
    zone = zone_for("Yogyakarta", "DI Yogyakarta", destination)
    # THEN case, dots, abbreviations and English names do not change the answer
    assert zone == expected


def test_same_city_requires_same_province_and_origin_spelling_is_tolerated_too() -> None:
    # GIVEN a Jakarta shop, written informally
    destination = Destination(postal_code="10110", city="jakarta pusat", province="DKI Jakarta")
    # WHEN / THEN a same-named city resolves to same_city
    assert zone_for("Jakarta Pusat", "jakarta", destination) == "same_city"
    assert zone_for("Jakarta Selatan", "DKI", destination) == "same_province"


def test_region_for_maps_every_canonical_province_to_a_long_haul_zone() -> None:
    # GIVEN every province WHEN its region is looked up THEN it is one of the four long-haul zones
    regions = {region_for(p) for p in PROVINCES}
    assert regions == {"java_bali", "sumatra_nusa", "kalimantan_sulawesi", "maluku_papua"}


def test_unknown_province_raises_unknown_destination_naming_it() -> None:
    # GIVEN a destination in a province that does not exist
    destination = Destination(postal_code="12345", city="Atlantis", province="Atlantis Raya")
    # WHEN a zone is derived
    # THEN UnknownDestination (a ValueError) names the province
    with pytest.raises(UnknownDestination, match="Atlantis Raya"):
        zone_for("Yogyakarta", "DI Yogyakarta", destination)
    assert issubclass(UnknownDestination, ValueError)


def test_destination_requires_a_five_digit_postal_code() -> None:
    # GIVEN a malformed kode pos WHEN a destination is built THEN it is refused
    with pytest.raises(ValueError, match="postal_code"):
        Destination(postal_code="5528", city="Yogyakarta", province="DI Yogyakarta")


# --- quoting ----------------------------------------------------------------------------------------------------------


def test_quote_prices_per_kg_rate_times_billable_kg_of_chargeable_weight() -> None:
    # GIVEN the basket (8000 g volumetric) going to Surabaya (java_bali)
    # WHEN quoted
    services = quote([BASKET], SURABAYA, **ORIGIN)
    # THEN JNE REG costs its java_bali per-kg rate times 8 kg
    jne_reg = find_service(services, "JNE", "REG")
    assert jne_reg is not None
    rate = DEFAULT_RATE_CARD.get("JNE", "REG")
    assert rate is not None
    assert jne_reg.price == rate.price_per_kg["java_bali"] * 8
    assert jne_reg.etd_days == rate.etd_days["java_bali"]


def test_quote_prices_are_whole_rupiah_ints() -> None:
    # GIVEN any parcel WHEN quoted THEN every price is an int (never a float) and positive
    services = quote([BATIK, BASKET], SURABAYA, **ORIGIN)
    assert services
    assert all(type(s.price) is int and s.price > 0 for s in services)


def test_services_without_a_price_for_the_zone_are_not_offered() -> None:
    # GIVEN a destination in Papua, which JNE YES, SiCepat BEST and AnterAja REG do not serve
    # WHEN quoted
    services = quote([BATIK], JAYAPURA, **ORIGIN)
    # THEN only services with a maluku_papua rate are offered
    offered = _names(services)
    assert ("JNE", "YES") not in offered
    assert ("SiCepat", "BEST") not in offered
    assert ("AnterAja", "REG") not in offered
    assert offered == {("JNE", "REG"), ("J&T", "EZ"), ("SiCepat", "REG")}


def test_every_default_service_is_offered_within_java() -> None:
    # GIVEN a destination in Java WHEN quoted THEN all six default services are offered
    assert len(quote([BATIK], SURABAYA, **ORIGIN)) == len(DEFAULT_RATE_CARD.services) == 6


def test_cod_is_offered_up_to_the_couriers_max_value_and_not_above() -> None:
    # GIVEN a card with one COD service capped at Rp 1.000.000
    card = RateCard(
        name="test",
        services=(
            ServiceRate(
                courier="JNE",
                service="REG",
                price_per_kg={"java_bali": 20_000},
                etd_days={"java_bali": "2-3"},
                cod_available=True,
                max_cod_value=1_000_000,
            ),
        ),
    )
    # WHEN an order exactly at the cap and one just above are quoted
    at_cap = quote([BATIK], SURABAYA, **ORIGIN, rate_card=card, order_value=1_000_000)
    above = quote([BATIK], SURABAYA, **ORIGIN, rate_card=card, order_value=1_000_001)
    # THEN COD is available at the cap and switched off above it
    assert at_cap[0].cod_available is True
    assert above[0].cod_available is False


def test_cod_limit_uses_items_value_times_quantity_when_order_value_is_not_given() -> None:
    # GIVEN 7 batik cloths worth Rp 450.000 each (Rp 3.150.000, above J&T's Rp 3.000.000 cap, below JNE's 5.000.000)
    items = [ParcelItem(name="Kain batik tulis", weight_grams=300, quantity=7, value=450_000)]
    # WHEN quoted without an explicit order value
    services = quote(items, SURABAYA, **ORIGIN)
    # THEN J&T drops COD, JNE REG keeps it, and services without COD never offer it
    assert find_service(services, "J&T", "EZ").cod_available is False  # type: ignore[union-attr]
    assert find_service(services, "JNE", "REG").cod_available is True  # type: ignore[union-attr]
    assert find_service(services, "JNE", "YES").cod_available is False  # type: ignore[union-attr]


def test_quote_is_sorted_by_price_then_courier() -> None:
    # GIVEN a card where two couriers tie on price and a third is cheaper
    card = RateCard(
        name="test",
        services=(
            ServiceRate(
                courier="SiCepat",
                service="REG",
                price_per_kg={"java_bali": 18_000},
                etd_days={"java_bali": "2-3"},
                cod_available=False,
            ),
            ServiceRate(
                courier="AnterAja",
                service="REG",
                price_per_kg={"java_bali": 18_000},
                etd_days={"java_bali": "2-4"},
                cod_available=False,
            ),
            ServiceRate(
                courier="J&T",
                service="EZ",
                price_per_kg={"java_bali": 17_000},
                etd_days={"java_bali": "2-4"},
                cod_available=False,
            ),
        ),
    )
    # WHEN quoted
    services = quote([BATIK], SURABAYA, **ORIGIN, rate_card=card)
    # THEN the cheapest comes first and ties are ordered by courier name
    assert [s.courier for s in services] == ["J&T", "AnterAja", "SiCepat"]


def test_default_quote_is_sorted_by_price() -> None:
    # GIVEN the default card WHEN a Papua parcel is quoted THEN prices never decrease down the list
    prices = [s.price for s in quote([BASKET], JAYAPURA, **ORIGIN)]
    assert prices == sorted(prices)


def test_empty_parcel_raises() -> None:
    # GIVEN no items WHEN quoted THEN EmptyParcel (a ValueError) is raised
    with pytest.raises(EmptyParcel):
        quote([], SURABAYA, **ORIGIN)
    assert issubclass(EmptyParcel, ValueError)


def test_quote_to_unknown_province_raises_unknown_destination() -> None:
    # GIVEN a province typo WHEN quoted THEN UnknownDestination is raised instead of a guessed price
    destination = Destination(postal_code="60111", city="Surabaya", province="Jawa Timurr")
    with pytest.raises(UnknownDestination, match="Jawa Timurr"):
        quote([BATIK], destination, **ORIGIN)


def test_shipping_service_to_dict_has_the_api_fields() -> None:
    # GIVEN a quoted service WHEN serialised THEN it exposes exactly the API fields
    service = ShippingService(courier="JNE", service="REG", price=20_000, etd_days="2-3", cod_available=True)
    assert service.to_dict() == {
        "courier": "JNE",
        "service": "REG",
        "price": 20_000,
        "etd_days": "2-3",
        "cod_available": True,
    }


# --- couriers ---------------------------------------------------------------------------------------------------------


def test_rate_card_courier_is_a_courier_named_sandbox_and_quotes_like_the_domain() -> None:
    # GIVEN the sandbox courier for a Yogyakarta shop
    courier = RateCardCourier(origin_city="Yogyakarta", origin_province="DI Yogyakarta")
    # WHEN it rates a parcel
    services = courier.rates([BASKET], SURABAYA, order_value=175_000)
    # THEN it satisfies the Courier protocol and matches domain.quote
    assert isinstance(courier, Courier)
    assert courier.name == "sandbox"
    assert services == quote([BASKET], SURABAYA, **ORIGIN, order_value=175_000)


def test_find_service_matches_case_insensitively_and_returns_none_when_absent() -> None:
    # GIVEN quoted services to Papua
    services = quote([BATIK], JAYAPURA, **ORIGIN)
    # WHEN the customer's choice is looked up
    found = find_service(services, "sicepat", " reg ")
    # THEN the right offer is returned, and an unserved service yields None
    assert found is not None
    assert (found.courier, found.service) == ("SiCepat", "REG")
    assert find_service(services, "JNE", "YES") is None
